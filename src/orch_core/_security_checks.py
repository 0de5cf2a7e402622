"""The per-value checks behind ``SecurityPolicy``, each written once.

Like ``_settings_checks``: attrs validators that raise
:class:`InvalidSettingError` naming the field, so a weak policy built directly
fails loudly and one read from ``orch.toml`` is reported under ``auth.<field>``.
No message ever contains the value of ``secret``.

>>> jwks_url_allowed("https://login.example.com/.well-known/jwks.json")
True
>>> jwks_url_allowed("http://127.0.0.1:8080/jwks"), jwks_url_allowed("http://example.com/jwks")
(True, False)
>>> jwks_url_allowed("http://127.0.0.1:80@evil.example/jwks")  # the host is evil.example
False
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Final
from urllib.parse import urlsplit

from ._scopes import DEFAULT_ACTION_SCOPES
from ._settings_checks import InvalidSettingError, is_absolute

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

_Validator = Callable[[object, Any, Any], None]


def text(_instance: object, attribute: Any, value: str) -> None:
    if not value.strip():
        raise InvalidSettingError("is required and must not be empty", attribute.name)


def optional_text(_instance: object, attribute: Any, value: str | None) -> None:
    # Not just a type check: `public_key_file = ""` would otherwise count as a key source.
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise InvalidSettingError("must be a non-empty string when set", attribute.name)
    if value is not None and not value.isascii():
        try:
            value.encode()  # a lone surrogate (never from TOML) would fail the shell later
        except UnicodeEncodeError:
            raise InvalidSettingError("must be valid Unicode text", attribute.name) from None


def key_file(instance: object, attribute: Any, value: str | None) -> None:
    optional_text(instance, attribute, value)
    # The server's working directory is whatever launched it (Claude Desktop: unknown).
    if value is not None and not is_absolute(value):
        raise InvalidSettingError(
            f"{value!r} is not an absolute path (write it in full; ~ is not expanded)",
            attribute.name,
        )


def algorithms(_instance: object, attribute: Any, value: tuple[str, ...]) -> None:
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


def between(low: float, high: float) -> _Validator:
    def check(_instance: object, attribute: Any, value: float) -> None:
        if not (math.isfinite(value) and low <= value <= high):
            raise InvalidSettingError(
                f"must be between {low:g} and {high:g}, got {value!r}", attribute.name
            )

    return check


def claims(_instance: object, attribute: Any, value: tuple[str, ...]) -> None:
    missing = [claim for claim in REQUIRED_CLAIMS if claim not in value]
    if missing:
        raise InvalidSettingError(
            f"must include {', '.join(REQUIRED_CLAIMS)} (missing: {', '.join(missing)})",
            attribute.name,
        )


def scope_table(_instance: object, attribute: Any, value: Mapping[str, str]) -> None:
    for action, scope in value.items():
        if action not in DEFAULT_ACTION_SCOPES:
            known = ", ".join(DEFAULT_ACTION_SCOPES)
            raise InvalidSettingError(f"unknown tool {action!r}; known: {known}", attribute.name)
        if not isinstance(scope, str) or not scope or any(char.isspace() for char in scope):
            raise InvalidSettingError(
                f"{action}: a scope is one word without spaces, got {scope!r}", attribute.name
            )


def full_table(given: Mapping[str, str]) -> Mapping[str, str]:
    """The default table with ``given`` laid over it (a policy names only changes).

    >>> full_table({"list_sessions": "reader"})["list_sessions"]
    'reader'
    >>> full_table({})["create_session"]
    'sessions:write'
    """
    return MappingProxyType({**DEFAULT_ACTION_SCOPES, **given})


def jwks_url_allowed(url: str) -> bool:
    """Whether keys may be fetched from ``url``: https, or plain http to a loopback host.

    Parsed, not prefix-matched, so ``http://localhost@evil.example/`` (whose host
    is ``evil.example``) is refused.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port  # raises ValueError for a port that is not a number in range
    except ValueError:
        return False
    if not host:
        return False
    if parts.scheme == "https":
        return True
    return parts.scheme == "http" and _is_loopback(host)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
