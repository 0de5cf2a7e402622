"""The security policy (``[auth]`` in ``orch.toml``) and what a verified token means.

A :class:`SecurityPolicy` that exists is a safe one: weak combinations (``none``
listed, a short HMAC secret, HMAC mixed with public-key algorithms, no key
source, a leeway over a minute) are refused when it is built, naming the
setting. The shell verifies a token's signature and registered claims with
PyJWT under this policy; :func:`principal_from_claims` then turns the verified
claims into the :class:`Principal` every call carries.

>>> policy = local_policy("/keys/token_signing.pub.pem")
>>> policy.issuer, policy.audience, policy.algorithms
('orch-local', 'orch', ('EdDSA',))
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
from types import MappingProxyType
from typing import Any, Final

from attrs import field, frozen
from attrs.validators import instance_of
from returns.result import Failure, Result, Success

from ._errors import ErrorCode, OrchError
from ._model import Principal
from ._scopes import DEFAULT_ACTION_SCOPES
from ._settings_checks import InvalidSettingError
from ._views import iso

LOCAL_ISSUER: Final = "orch-local"
LOCAL_AUDIENCE: Final = "orch"

HMAC_ALGORITHMS: Final = ("HS256", "HS384", "HS512")
ASYMMETRIC_ALGORITHMS: Final = (
    "EdDSA",
    "ES256",
    "ES384",
    "ES512",
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
)
DEFAULT_ALGORITHMS: Final = ("EdDSA", "ES256", "RS256")
REQUIRED_CLAIMS: Final = ("exp", "iat", "iss", "aud", "sub")
"""Claims every token must carry; a policy may require more, never fewer."""

MIN_SECRET_BYTES: Final = 32
MAX_LEEWAY_SECONDS: Final = 60.0
DEFAULT_MAX_TOKEN_BYTES: Final = 8192


def _text(_instance: object, attribute: Any, value: str) -> None:
    if not value.strip():
        raise InvalidSettingError("is required and must not be empty", attribute.name)


def _algorithms(_instance: object, attribute: Any, value: tuple[str, ...]) -> None:
    if not value:
        raise InvalidSettingError("must list at least one algorithm", attribute.name)
    for name in value:
        if name.lower() == "none":
            raise InvalidSettingError(
                "'none' is never allowed: it accepts unsigned tokens", attribute.name
            )
        if name not in HMAC_ALGORITHMS + ASYMMETRIC_ALGORITHMS:
            known = ", ".join(ASYMMETRIC_ALGORITHMS + HMAC_ALGORITHMS)
            raise InvalidSettingError(f"unknown algorithm {name!r}; known: {known}", attribute.name)
    hmac = [name for name in value if name in HMAC_ALGORITHMS]
    if hmac and len(hmac) != len(value):
        raise InvalidSettingError(
            "HMAC (HS*) algorithms cannot be mixed with public-key ones: a public key "
            "would then be accepted as an HMAC secret",
            attribute.name,
        )


def _between(low: float, high: float) -> Any:
    def check(_instance: object, attribute: Any, value: float) -> None:
        if not (math.isfinite(value) and low <= value <= high):
            raise InvalidSettingError(
                f"must be between {low:g} and {high:g}, got {value!r}", attribute.name
            )

    return check


def _claims(_instance: object, attribute: Any, value: tuple[str, ...]) -> None:
    missing = [claim for claim in REQUIRED_CLAIMS if claim not in value]
    if missing:
        raise InvalidSettingError(
            f"must include {', '.join(REQUIRED_CLAIMS)} (missing: {', '.join(missing)})",
            attribute.name,
        )


def _scope_table(_instance: object, attribute: Any, value: Mapping[str, str]) -> None:
    for action, scope in value.items():
        if action not in DEFAULT_ACTION_SCOPES:
            known = ", ".join(DEFAULT_ACTION_SCOPES)
            raise InvalidSettingError(f"unknown tool {action!r}; known: {known}", attribute.name)
        if not scope or any(char.isspace() for char in scope):
            raise InvalidSettingError(
                f"{action}: a scope is one word without spaces, got {scope!r}", attribute.name
            )


def _full_table(given: Mapping[str, str]) -> Mapping[str, str]:
    """The default table with ``given`` laid over it (a policy names only changes)."""
    return MappingProxyType({**DEFAULT_ACTION_SCOPES, **given})


@frozen(kw_only=True)
class SecurityPolicy:
    """Which tokens orch accepts, and which scope each tool needs.

    The key source is exactly one of ``public_key_file`` (a PEM public key),
    ``jwks_url`` (an identity provider's key set, fetched and cached) or
    ``secret`` (only with HS* algorithms, at least 32 bytes).
    """

    issuer: str = field(validator=[instance_of(str), _text])
    audience: str = field(validator=[instance_of(str), _text])
    algorithms: tuple[str, ...] = field(default=DEFAULT_ALGORITHMS, validator=_algorithms)
    public_key_file: str | None = None
    jwks_url: str | None = None
    secret: str | None = field(default=None, repr=False)  # never printed, never logged
    jwks_cache_seconds: float = field(default=300.0, validator=_between(1, 86_400))
    jwks_timeout_seconds: float = field(default=5.0, validator=_between(0.1, 60))
    leeway_seconds: float = field(default=30.0, validator=_between(0, MAX_LEEWAY_SECONDS))
    max_token_bytes: int = field(
        default=DEFAULT_MAX_TOKEN_BYTES, validator=_between(256, DEFAULT_MAX_TOKEN_BYTES)
    )
    required_claims: tuple[str, ...] = field(default=REQUIRED_CLAIMS, validator=_claims)
    token_type: str | None = None
    """When set, the header ``typ`` must equal it (case-insensitively), e.g. ``at+jwt``."""
    scopes: Mapping[str, str] = field(
        default=DEFAULT_ACTION_SCOPES, converter=_full_table, validator=_scope_table
    )

    def __attrs_post_init__(self) -> None:
        hmac = self.algorithms[0] in HMAC_ALGORITHMS
        if hmac:
            if self.secret is None:
                raise InvalidSettingError("HS* algorithms need an explicit secret", "secret")
            if len(self.secret.encode()) < MIN_SECRET_BYTES:
                raise InvalidSettingError(
                    f"must be at least {MIN_SECRET_BYTES} bytes for HS*, got "
                    f"{len(self.secret.encode())}",
                    "secret",
                )
            if self.public_key_file or self.jwks_url:
                raise InvalidSettingError(
                    "HS* algorithms use the secret only; remove public_key_file and jwks_url",
                    "algorithms",
                )
            return
        if self.secret is not None:
            raise InvalidSettingError(
                "a secret is only used with HS* algorithms; public-key algorithms need "
                "public_key_file or jwks_url",
                "secret",
            )
        if (self.public_key_file is None) == (self.jwks_url is None):
            raise InvalidSettingError(
                "set exactly one of public_key_file or jwks_url", "public_key_file"
            )
        if self.jwks_url is not None and not _safe_url(self.jwks_url):
            raise InvalidSettingError(
                "must be an https:// URL (http:// only for localhost)", "jwks_url"
            )


def _safe_url(url: str) -> bool:
    if url.startswith("https://"):
        return len(url) > len("https://")
    for host in ("localhost", "127.0.0.1", "[::1]"):
        prefix = f"http://{host}"
        if url.startswith(prefix) and url[len(prefix) : len(prefix) + 1] in {"", ":", "/"}:
            return True
    return False


def local_policy(public_key_file: str) -> SecurityPolicy:
    """The policy for tokens minted by ``orch init`` / ``orch token issue``."""
    return SecurityPolicy(
        issuer=LOCAL_ISSUER,
        audience=LOCAL_AUDIENCE,
        algorithms=("EdDSA",),
        public_key_file=public_key_file,
    )


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
    if expiry is not None and (isinstance(expiry, bool) or not isinstance(expiry, int | float)):
        return _bad("'exp' must be a number")
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
    the token expired at 1970-01-01T00:01:40.000Z; get a new one (orch token issue)
    """
    if principal.expires_at is not None and now >= principal.expires_at + leeway:
        return Failure(
            AuthFailure(
                reason=AuthFailureReason.EXPIRED,
                message=f"the token expired at {iso(principal.expires_at)}; get a new one "
                "(orch token issue)",
            )
        )
    return Success(principal)


def _optional_text(claims: Mapping[str, object], name: str) -> str | None:
    value = claims.get(name)
    return value if isinstance(value, str) and value else None


def _bad(message: str) -> Failure[AuthFailure]:
    return Failure(AuthFailure(reason=AuthFailureReason.BAD_CLAIMS, message=message))
