"""Where the stdio server's own token comes from: ``ORCH_TOKEN`` or ``ORCH_TOKEN_FILE``.

On stdio there is no HTTP header: the client that starts the server (Claude
Desktop) passes the credential in the environment. ``ORCH_TOKEN`` holds the
token itself; ``ORCH_TOKEN_FILE`` names a file holding it (what ``orch
claude-desktop-config`` writes, so the token is not copied into Claude's
config). The file is re-read when it changes, so ``orch token issue --out``
renews a running server's token without a restart; it is written atomically
(see ``_keys.write_private_text``), so a reader never sees half a token.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import structlog
from attrs import define, field
from returns.result import Failure, Result, Success

from orch_core import AuthFailure, AuthFailureReason

log = structlog.get_logger("orch.auth")

# Names of environment variables, not secrets.
TOKEN_VARIABLE = "ORCH_TOKEN"  # noqa: S105
TOKEN_FILE_VARIABLE = "ORCH_TOKEN_FILE"  # noqa: S105

_MAX_FILE_BYTES = 1024 * 1024  # far above any token; the verifier's own cap is smaller


@define
class TokenSource:
    """The current token: a fixed value, or a file's contents (re-read on change)."""

    fixed: str | None = None
    path: Path | None = None
    _seen: tuple[int, int, int] | None = field(default=None, init=False)
    _cached: Result[str, AuthFailure] = field(
        default=Failure(AuthFailure(reason=AuthFailureReason.MISSING, message="no token")),
        init=False,
    )

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Result[TokenSource, str]:
        """The source the environment names, or why there is none (for stderr)."""
        token, path = environ.get(TOKEN_VARIABLE, ""), environ.get(TOKEN_FILE_VARIABLE, "")
        if token and path:
            return Failure(f"set {TOKEN_VARIABLE} or {TOKEN_FILE_VARIABLE}, not both")
        if token:
            return Success(cls(fixed=token.strip()))
        if path:
            return Success(cls(path=Path(path).expanduser()))
        return Failure(
            f"no token: set {TOKEN_FILE_VARIABLE} to the token file `orch init` created "
            f"(`orch token path` prints it) or {TOKEN_VARIABLE} to a token"
        )

    def describe(self) -> str:
        """Where the token comes from, for messages (never the token itself)."""
        return f"${TOKEN_FILE_VARIABLE} ({self.path})" if self.path else f"${TOKEN_VARIABLE}"

    def current(self) -> Result[str, AuthFailure]:
        """The token now in effect."""
        if self.path is None:
            return Success(self.fixed or "")
        try:
            status = self.path.stat()
        except OSError as error:
            return _unreadable(self.path, error)
        seen = (status.st_ino, status.st_mtime_ns, status.st_size)
        if seen != self._seen:
            self._cached = _read(self.path)
            self._seen = seen
        return self._cached


def _read(path: Path) -> Result[str, AuthFailure]:
    try:
        with path.open("rb") as file:
            data = file.read(_MAX_FILE_BYTES + 1)
    except OSError as error:
        return _unreadable(path, error)
    try:
        return Success(data.decode("ascii").strip())
    except UnicodeDecodeError:
        return Failure(
            AuthFailure(
                reason=AuthFailureReason.MALFORMED,
                message="the token file does not hold a token",
            )
        )


def _unreadable(path: Path, error: OSError) -> Failure[AuthFailure]:
    # The path stays in the server's log: client-visible text names no server path.
    log.warning("cannot read the token file", path=str(path), error=error.strerror)
    return Failure(
        AuthFailure(
            reason=AuthFailureReason.MISSING,
            message=f"the token file cannot be read ({error.strerror or 'error'})",
        )
    )
