"""The security policy (``[auth]`` in ``orch.toml``): which tokens orch accepts.

A :class:`SecurityPolicy` that exists is a safe one: weak combinations (``none``
listed, a short HMAC secret, HMAC mixed with public-key algorithms, no key
source, a leeway over a minute) are refused when it is built, naming the
setting. The shell verifies a token's signature and registered claims with
PyJWT under this policy; :func:`principal_from_claims` (in ``_claims``) then
turns the verified claims into the :class:`Principal` every call carries.

>>> policy = local_policy("/keys/token_signing.pub.pem")
>>> policy.issuer, policy.audience, policy.algorithms
('orch-local', 'orch', ('EdDSA',))
>>> SecurityPolicy(issuer="https://idp.example/", audience="orch", algorithms=("HS256",),
...                secret="x" * 8)
Traceback (most recent call last):
...
orch_core._settings_checks.InvalidSettingError: must be at least 32 bytes for HS*, got 8
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from attrs import field, frozen
from attrs.validators import instance_of

from . import _security_checks as checks
from ._claims import AuthFailure, AuthFailureReason, principal_from_claims, still_valid
from ._scopes import DEFAULT_ACTION_SCOPES
from ._security_checks import (
    ASYMMETRIC_ALGORITHMS,
    DEFAULT_ALGORITHMS,
    DEFAULT_MAX_TOKEN_BYTES,
    HMAC_ALGORITHMS,
    MAX_LEEWAY_SECONDS,
    MIN_SECRET_BYTES,
    REQUIRED_CLAIMS,
)
from ._settings_checks import DOC, EXAMPLE, InvalidSettingError

LOCAL_ISSUER: Final = "orch-local"
LOCAL_AUDIENCE: Final = "orch"

_SOURCES: Final = "exactly one key source: jwks_url, public_key_file or secret (HS* only)"


@frozen(kw_only=True)
class SecurityPolicy:
    """Which tokens orch accepts, and which scope each tool needs.

    The key source is exactly one of ``jwks_url`` (an identity provider's key
    set, fetched and cached), ``public_key_file`` (a PEM public key) or
    ``secret`` (only with HS* algorithms, at least 32 bytes). The secret is
    never shown: not in ``repr``, not in any error message.
    """

    issuer: str = field(
        validator=[instance_of(str), checks.text],
        metadata={
            DOC: "Required. The issuer tokens must name in 'iss', exactly as the identity "
            "provider writes it (often its URL).",
            EXAMPLE: "https://login.example.com/",
        },
    )
    audience: str = field(
        validator=[instance_of(str), checks.text],
        metadata={
            DOC: "Required. The audience tokens must name in 'aud': this server's identifier "
            "at the identity provider.",
            EXAMPLE: "orch",
        },
    )
    algorithms: tuple[str, ...] = field(
        default=DEFAULT_ALGORITHMS,
        validator=checks.algorithms,
        metadata={
            DOC: "Signature algorithms accepted: public-key ones ("
            + ", ".join(ASYMMETRIC_ALGORITHMS)
            + "), or HMAC ones ("
            + ", ".join(HMAC_ALGORITHMS)
            + ") with a secret, never both kinds. 'none' is never allowed."
        },
    )
    jwks_url: str | None = field(
        default=None,
        validator=checks.optional_text,
        metadata={
            DOC: "The identity provider's key set (JWKS), fetched over https:// (http:// only "
            f"for localhost) and cached. Set {_SOURCES}.",
            EXAMPLE: "https://login.example.com/.well-known/jwks.json",
        },
    )
    public_key_file: str | None = field(
        default=None,
        validator=checks.key_file,
        metadata={
            DOC: "Instead of jwks_url: a PEM file holding the issuer's public key (an "
            "absolute path).",
            EXAMPLE: "/etc/orch/issuer.pub.pem",
        },
    )
    secret: str | None = field(
        default=None,
        repr=False,  # never printed, never logged
        validator=checks.optional_text,
        metadata={
            DOC: "Instead of a public key: a shared HMAC secret, only when the algorithms are "
            f"HS256, HS384 or HS512; at least {MIN_SECRET_BYTES} bytes (e.g. the output of "
            "`openssl rand -base64 32`). Whoever reads it can mint tokens: keep this file "
            "private, and prefer a public key.",
            EXAMPLE: "CHANGE-ME",  # deliberately too short: a pasted example is refused
        },
    )
    jwks_cache_seconds: float = field(
        default=300.0,
        validator=checks.between(1, 86_400),
        metadata={DOC: "How long fetched keys are reused before the JWKS is fetched again."},
    )
    jwks_timeout_seconds: float = field(
        default=5.0,
        validator=checks.between(0.1, 60),
        metadata={DOC: "How long to wait for the JWKS URL to answer (0.1-60 seconds)."},
    )
    leeway_seconds: float = field(
        default=30.0,
        validator=checks.between(0, MAX_LEEWAY_SECONDS),
        metadata={
            DOC: "Clock difference tolerated when checking exp, nbf and iat (0-"
            f"{MAX_LEEWAY_SECONDS:g} seconds)."
        },
    )
    max_token_bytes: int = field(
        default=DEFAULT_MAX_TOKEN_BYTES,
        validator=checks.between(256, DEFAULT_MAX_TOKEN_BYTES),
        metadata={
            DOC: "Longest token accepted, in bytes; a longer one is refused before it is "
            f"parsed (256-{DEFAULT_MAX_TOKEN_BYTES})."
        },
    )
    required_claims: tuple[str, ...] = field(
        default=REQUIRED_CLAIMS,
        validator=checks.claims,
        metadata={
            DOC: "Claims every token must carry: always " + ", ".join(REQUIRED_CLAIMS) + "; "
            "you may add more."
        },
    )
    token_type: str | None = field(
        default=None,
        validator=checks.optional_text,
        metadata={
            DOC: "When set, the token header's 'typ' must equal it (case-insensitively), e.g. "
            "at+jwt for OAuth access tokens (RFC 9068). Unset: not checked.",
            EXAMPLE: "at+jwt",
        },
    )
    scopes: Mapping[str, str] = field(
        default=DEFAULT_ACTION_SCOPES,
        converter=checks.full_table,
        validator=checks.scope_table,
        metadata={
            DOC: "The scope each tool needs (read_resource: reading an orch:// transcript). "
            "Name only the tools to change; the others keep these defaults. A token with "
            "orch:admin may call every tool."
        },
    )

    def __attrs_post_init__(self) -> None:
        if self.algorithms[0] in HMAC_ALGORITHMS:
            if self.secret is None:
                raise InvalidSettingError("HS* algorithms need an explicit secret", "secret")
            size = len(self.secret.encode())
            if size < MIN_SECRET_BYTES:
                raise InvalidSettingError(
                    f"must be at least {MIN_SECRET_BYTES} bytes for HS*, got {size}", "secret"
                )
            if self.public_key_file is not None or self.jwks_url is not None:
                raise InvalidSettingError(
                    "HS* algorithms use the secret only; remove public_key_file and jwks_url",
                    "algorithms",
                )
            return
        if self.secret is not None:
            raise InvalidSettingError(
                'a secret is only used with HS* algorithms (algorithms = ["HS256"]); '
                "public-key algorithms need jwks_url or public_key_file",
                "secret",
            )
        if self.jwks_url is None and self.public_key_file is None:
            raise InvalidSettingError(f"no key to verify tokens with; set {_SOURCES}", "jwks_url")
        if self.jwks_url is not None and self.public_key_file is not None:
            raise InvalidSettingError(
                f"both jwks_url and public_key_file are set; keep {_SOURCES}", "jwks_url"
            )
        if self.jwks_url is not None and not checks.jwks_url_allowed(self.jwks_url):
            raise InvalidSettingError(
                "must be an https:// URL (http:// only to localhost or a loopback address)",
                "jwks_url",
            )


def local_policy(public_key_file: str) -> SecurityPolicy:
    """The policy for tokens minted by ``orch init`` / ``orch token issue``."""
    return SecurityPolicy(
        issuer=LOCAL_ISSUER,
        audience=LOCAL_AUDIENCE,
        algorithms=("EdDSA",),
        public_key_file=public_key_file,
    )


__all__ = [  # the claims half is re-exported so ``orch_core`` can import it from here
    "ASYMMETRIC_ALGORITHMS",
    "DEFAULT_ALGORITHMS",
    "DEFAULT_MAX_TOKEN_BYTES",
    "HMAC_ALGORITHMS",
    "LOCAL_AUDIENCE",
    "LOCAL_ISSUER",
    "MAX_LEEWAY_SECONDS",
    "MIN_SECRET_BYTES",
    "REQUIRED_CLAIMS",
    "AuthFailure",
    "AuthFailureReason",
    "SecurityPolicy",
    "local_policy",
    "principal_from_claims",
    "still_valid",
]
