"""The server's credentials: which verifier checks tokens, and where stdio's token is.

Kept apart from the transports (no FastMCP import) so ``orch doctor`` can check
a token exactly as the server would, quickly.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from returns.result import Failure, Result, Success

from orch_core import AuthFailure, Principal, Settings

from ._local_issuer import security_policy
from ._paths import OrchPaths
from ._token_source import TokenSource
from ._verifier import JwtVerifier

Authenticate = Callable[[], Result[Principal, AuthFailure]]
"""Verify the current call's token and say who is calling."""


def load_verifier(settings: Settings, paths: OrchPaths) -> Result[JwtVerifier, str]:
    """The verifier for the policy in effect, or why it cannot be built."""
    if settings.auth is None and not paths.public_key.exists():
        return Failure(f"no token key at {paths.public_key}: run `orch init` first")
    return JwtVerifier.from_policy(security_policy(settings, paths))


def stdio_credentials(
    verifier: JwtVerifier, environ: Mapping[str, str]
) -> Result[Authenticate, str]:
    """The stdio server's credentials, checked now: a server whose own token does
    not verify refuses to start rather than fail every call."""
    found = TokenSource.from_environ(environ)
    if isinstance(found, Failure):
        return Failure(found.failure())
    source = found.unwrap()

    def authenticate() -> Result[Principal, AuthFailure]:
        return source.current().bind(lambda token: verifier.verify(token, time.time()))

    checked = authenticate()
    if isinstance(checked, Failure):
        return Failure(
            f"the token from {source.describe()} is refused: {checked.failure().message}"
        )
    return Success(authenticate)
