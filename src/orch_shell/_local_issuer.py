"""The local token issuer: the key pair and the user's token that ``orch init`` makes.

Claude Desktop on one machine needs no identity provider: ``orch init`` creates
an Ed25519 key pair in the data dir (private key 0600) and a token for the user
running it, with every scope, valid for a year and written 0600. The server
verifies with the public key only. ``orch token issue`` mints more tokens (for
another subject, fewer scopes, a shorter life) with the same key.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Sequence

from attrs import frozen
from returns.result import Failure, Result, Success

from orch_core import ALL_SCOPES, SecurityPolicy, Settings, local_policy

from ._keys import create_key_pair, load_private_key, mint_token, write_private_text
from ._paths import OrchPaths
from ._verifier import JwtVerifier

DAY = 86_400.0
LOCAL_TOKEN_TTL = 365 * DAY
RENEW_WITHIN = 30 * DAY
"""``orch init`` (and so ``make serve``) renews a local token this close to expiry."""


def security_policy(settings: Settings, paths: OrchPaths) -> SecurityPolicy:
    """``[auth]`` if the file has it, else the local issuer ``orch init`` created."""
    return settings.auth or local_policy(str(paths.public_key))


def local_subject() -> str:
    """The subject of the local user's token: ``local:<login name>``."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no USER/LOGNAME and no passwd entry (some containers)
        user = str(os.getuid())
    return f"local:{user}"


@frozen(kw_only=True)
class LocalSetup:
    """What ``ensure_local_credentials`` did, for ``orch init`` to report."""

    keys_created: bool
    token_written: bool
    why: str
    """Why the token was (re)written, or that it was kept."""


def ensure_local_credentials(paths: OrchPaths, now: float) -> Result[LocalSetup, str]:
    """Create the key pair if missing; write the local token if it is missing, does
    not verify with the current key, or expires within ``RENEW_WITHIN``."""
    created = create_key_pair(paths.signing_key, paths.public_key)
    if isinstance(created, Failure):
        error = created.failure()
        return Failure(f"cannot create {error.path}: {error.message}")
    why = _token_state(paths, now)
    if why is None:
        return Success(LocalSetup(keys_created=created.unwrap(), token_written=False, why="valid"))
    issued = issue_token(
        paths,
        local_policy(str(paths.public_key)),
        subject=local_subject(),
        scopes=ALL_SCOPES,
        ttl_seconds=LOCAL_TOKEN_TTL,
        now=now,
    )
    if isinstance(issued, Failure):
        return Failure(issued.failure())
    try:
        write_private_text(paths.token_file, issued.unwrap() + "\n")
    except OSError as error:
        return Failure(f"cannot write {paths.token_file}: {error.strerror}")
    return Success(LocalSetup(keys_created=created.unwrap(), token_written=True, why=why))


def _token_state(paths: OrchPaths, now: float) -> str | None:
    """Why the local token must be (re)written, or None if it is fine."""
    try:
        token = paths.token_file.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return "new"
    except (OSError, UnicodeDecodeError):
        return "unreadable"
    verifier = JwtVerifier.from_policy(local_policy(str(paths.public_key)))
    if isinstance(verifier, Failure):
        return "key unreadable"
    verified = verifier.unwrap().verify(token, now)
    if isinstance(verified, Failure):
        return f"refused ({verified.failure().reason.value})"
    expiry = verified.unwrap().expires_at
    if expiry is not None and expiry - now < RENEW_WITHIN:
        return "expiring"
    return None


def issue_token(
    paths: OrchPaths,
    policy: SecurityPolicy,
    *,
    subject: str,
    scopes: Sequence[str],
    ttl_seconds: float,
    now: float,
    client_id: str | None = None,
) -> Result[str, str]:
    """A token for ``policy`` signed with the local key, if that policy trusts it."""
    if policy.public_key_file is None or os.path.realpath(policy.public_key_file) != (
        os.path.realpath(paths.public_key)
    ):
        return Failure(
            f"this server accepts tokens from {policy.issuer!r}, not from orch's local key: "
            "get tokens from that issuer"
        )
    key = load_private_key(paths.signing_key)
    if isinstance(key, Failure):
        error = key.failure()
        return Failure(f"cannot load {error.path}: {error.message} (run `orch init`)")
    return Success(
        mint_token(
            key.unwrap(),
            issuer=policy.issuer,
            audience=policy.audience,
            subject=subject,
            scopes=scopes,
            ttl_seconds=ttl_seconds,
            now=now,
            client_id=client_id,
        )
    )
