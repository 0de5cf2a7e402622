"""What a verified token means: the :class:`Principal` made from its claims.

The shell verifies a token's signature and registered claims (``iss``, ``aud``,
``exp``...) with PyJWT under the :class:`~orch_core.SecurityPolicy`; this module
only reads the claims it trusts, and says why a call was not authenticated.

>>> claims = {"sub": "ann", "scope": "sessions:read agents:write", "exp": 10, "jti": "t1"}
>>> sorted(principal_from_claims(claims).unwrap().scopes)
['agents:write', 'sessions:read']
>>> print(principal_from_claims({"sub": ""}).failure().as_error())
UNAUTHENTICATED: the token has no subject ('sub')
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from typing import TypeGuard

from attrs import frozen
from returns.result import Failure, Result, Success

from ._errors import ErrorCode, OrchError
from ._model import Principal
from ._views import iso


class AuthFailureReason(enum.StrEnum):
    """Why a call was not authenticated: a label for metrics and the audit log."""

    MISSING = "missing"
    MALFORMED = "malformed"
    TOO_LARGE = "too_large"
    BAD_HEADER = "bad_header"
    BAD_ALGORITHM = "bad_algorithm"
    UNKNOWN_KEY = "unknown_key"
    BAD_SIGNATURE = "bad_signature"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    BAD_CLAIMS = "bad_claims"
    KEYS_UNAVAILABLE = "keys_unavailable"


@frozen(kw_only=True)
class AuthFailure:
    """A token refused: the reason label and a message safe to show the caller
    (it never contains the token)."""

    reason: AuthFailureReason
    message: str

    def as_error(self) -> OrchError:
        """The ``UNAUTHENTICATED`` error a client sees."""
        return OrchError(code=ErrorCode.UNAUTHENTICATED, message=self.message)


def principal_from_claims(claims: Mapping[str, object]) -> Result[Principal, AuthFailure]:
    """The security context for verified ``claims``.

    ``sub`` must be a non-empty string; scopes come from ``scope`` (space
    separated) or ``scp`` (a list of strings), both if both are present; the
    client is ``client_id`` or else ``azp``; the token id is ``jti``.
    """
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        return _bad("the token has no subject ('sub')")
    scopes: set[str] = set()
    scope = claims.get("scope")
    if scope is not None:
        if not isinstance(scope, str):
            return _bad("'scope' must be a space-separated string")
        scopes.update(scope.split())
    scp = claims.get("scp")
    if scp is not None:
        if not isinstance(scp, list) or not all(isinstance(item, str) for item in scp):
            return _bad("'scp' must be a list of strings")
        scopes.update(scp)
    expiry = claims.get("exp")
    if expiry is not None and not _finite(expiry):
        return _bad("'exp' must be a finite number (Unix seconds)")
    return Success(
        Principal(
            subject=subject,
            scopes=frozenset(scopes),
            client_id=_optional_text(claims, "client_id") or _optional_text(claims, "azp"),
            token_id=_optional_text(claims, "jti"),
            expires_at=None if expiry is None else float(expiry),
        )
    )


def still_valid(
    principal: Principal, now: float, leeway: float = 0.0
) -> Result[Principal, AuthFailure]:
    """``principal`` unless its token has expired by ``now`` (with ``leeway``).

    Checked on every call, so a token that expires while the server runs stops
    working at once, although its signature was verified earlier.

    >>> print(still_valid(Principal(subject="a", expires_at=100.0), now=100.0).failure().message)
    the token expired at 1970-01-01T00:01:40.000Z; get a new one from its issuer
    """
    if principal.expires_at is not None and now >= principal.expires_at + leeway:
        return Failure(
            AuthFailure(
                reason=AuthFailureReason.EXPIRED,
                # The issuer may be orch's own (`orch token issue`) or an identity
                # provider: the message cannot know which, `orch doctor` does.
                message=f"the token expired at {_moment(principal.expires_at)}; get a new one "
                "from its issuer",
            )
        )
    return Success(principal)


def _finite(value: object) -> TypeGuard[int | float]:
    """Whether ``value`` is a JSON number a float can hold (not bool, NaN or infinite)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond the float range
        return False


def _moment(timestamp: float) -> str:
    """``timestamp`` as ISO 8601, or as a number if no calendar date can hold it."""
    try:
        return f"{iso(timestamp)}"
    except (OverflowError, ValueError, OSError):
        return f"{timestamp:g} (Unix time)"


def _optional_text(claims: Mapping[str, object], name: str) -> str | None:
    value = claims.get(name)
    return value if isinstance(value, str) and value else None


def _bad(message: str) -> Failure[AuthFailure]:
    return Failure(AuthFailure(reason=AuthFailureReason.BAD_CLAIMS, message=message))
