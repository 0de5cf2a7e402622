"""Where the key that verifies a token comes from: always the policy, never the token.

Three sources, one per way ``[auth]`` names a key: a PEM public key file, an
identity provider's JWKS URL (fetched lazily, cached, with a timeout), or an
HMAC secret. Each answers "which key verifies a token with this ``alg`` and
``kid``?", refusing a ``kid`` it does not hold and an algorithm that does not
fit its key (an RSA key never verifies an ``ES256`` token, and so on).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final, Protocol

import jwt
from attrs import field, frozen
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from returns.result import Failure, Result, Success

from orch_core import AuthFailure, AuthFailureReason, SecurityPolicy

from ._keys import PublicKey, key_id, load_public_key

VerifyingKey = PublicKey | jwt.PyJWK | bytes
"""What ``jwt.decode`` is given: a public key, a JWK from the key set, or a secret."""

_CURVE_ALGORITHM: Final = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}
_RSA_ALGORITHMS: Final = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
_HMAC_ALGORITHMS: Final = frozenset({"HS256", "HS384", "HS512"})
_JWKS_ERRORS: Final = (jwt.PyJWKClientError, jwt.PyJWKSetError, OSError, ValueError)
"""What a key set fetch raises: PyJWT's own errors, plus the socket errors and the
JSON/UTF-8 ``ValueError`` that ``PyJWKClient.fetch_data`` lets through."""


class KeySource(Protocol):
    """Finds the key for a token's ``alg`` and ``kid`` (both read before the
    signature is checked, so they only ever narrow the choice)."""

    def key_for(self, alg: str, kid: str | None) -> Result[VerifyingKey, AuthFailure]:
        """The key to verify with, or why there is none."""
        ...

    def describe(self) -> str:
        """One line for logs; never key material."""
        ...


def algorithms_for(key: object) -> frozenset[str]:
    """The JOSE algorithms that can be verified with ``key``.

    >>> from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    >>> sorted(algorithms_for(Ed25519PrivateKey.generate().public_key()))
    ['EdDSA']
    """
    if isinstance(key, Ed25519PublicKey):
        return frozenset({"EdDSA"})
    if isinstance(key, ec.EllipticCurvePublicKey):
        name = _CURVE_ALGORITHM.get(key.curve.name)
        return frozenset() if name is None else frozenset({name})
    if isinstance(key, rsa.RSAPublicKey):
        return _RSA_ALGORITHMS
    return frozenset()


def key_source_for(policy: SecurityPolicy) -> Result[KeySource, str]:
    """The key source ``policy`` names, loaded now (a JWKS is fetched on first use);
    the error names the setting."""
    if policy.secret is not None:
        return Success(SecretKeySource(secret=policy.secret.encode()))
    if policy.jwks_url is not None:
        return _jwks_source(policy, policy.jwks_url)
    if policy.public_key_file is None:  # SecurityPolicy refuses this; kept for the type checker
        return Failure("auth: no key source (public_key_file, jwks_url or secret)")
    loaded = load_public_key(Path(policy.public_key_file))
    if isinstance(loaded, Failure):
        return Failure(f"auth.public_key_file: {loaded.failure().message}")
    key = loaded.unwrap()
    usable = algorithms_for(key) & set(policy.algorithms)
    if not usable:
        return Failure(
            f"auth.public_key_file: {policy.public_key_file} holds a key that cannot verify "
            f"any of auth.algorithms ({', '.join(policy.algorithms)}); it fits "
            f"{', '.join(sorted(algorithms_for(key)))}"
        )
    return Success(FileKeySource(key=key, kid=key_id(key), path=policy.public_key_file))


def _jwks_source(policy: SecurityPolicy, url: str) -> Result[KeySource, str]:
    try:
        client = jwt.PyJWKClient(
            url,
            cache_jwk_set=True,
            lifespan=policy.jwks_cache_seconds,
            timeout=policy.jwks_timeout_seconds,
        )
    except jwt.PyJWKClientError as error:
        return Failure(f"auth.jwks_url: {error}")
    return Success(JwksKeySource(client=client, url=url))


@frozen(kw_only=True)
class FileKeySource:
    """One public key from a PEM file; its RFC 7638 thumbprint is its ``kid``."""

    key: PublicKey
    kid: str
    path: str

    def key_for(self, alg: str, kid: str | None) -> Result[VerifyingKey, AuthFailure]:
        """The file's key, if the token names it (or names no key) and ``alg`` fits it."""
        if kid is not None and kid != self.kid:
            return _fail(
                AuthFailureReason.UNKNOWN_KEY,
                "the token names a signing key (kid) this server does not know; it was "
                "signed by another issuer or an older key",
            )
        if alg not in algorithms_for(self.key):
            return _fail(
                AuthFailureReason.BAD_ALGORITHM,
                f"the server's key cannot verify a token signed with {alg}",
            )
        return Success(self.key)

    def describe(self) -> str:
        """The file and its key id."""
        return f"public key file {self.path} (kid {self.kid})"


@frozen(kw_only=True)
class JwksKeySource:
    """An identity provider's key set, fetched when first needed and cached by
    ``PyJWKClient`` for ``jwks_cache_seconds``.

    An unknown ``kid`` makes the client re-fetch at most once per 30 s (its
    cooldown), so tokens naming random keys cannot turn the server into a
    request amplifier against the identity provider.
    """

    client: jwt.PyJWKClient
    url: str

    def key_for(self, alg: str, kid: str | None) -> Result[VerifyingKey, AuthFailure]:
        """The set's key named ``kid``; ``jwt.decode`` then also holds the token to
        that key's own algorithm (its ``alg``, or the one its type implies)."""
        if kid is None:
            return _fail(
                AuthFailureReason.UNKNOWN_KEY,
                "the token names no signing key (kid); the identity provider's key set needs one",
            )
        try:
            present = self.client.match_kid(self.client.get_signing_keys(), kid)
        except _JWKS_ERRORS:
            return _unavailable()
        if present is not None:
            return _fitting(present, alg)
        try:
            # May re-fetch once (a rotated key), subject to the client's cooldown.
            return _fitting(self.client.get_signing_key(kid), alg)
        except (jwt.PyJWKClientConnectionError, jwt.PyJWKSetError, OSError, ValueError):
            return _unavailable()
        except jwt.PyJWKClientError:
            return _fail(
                AuthFailureReason.UNKNOWN_KEY,
                "the token names a signing key (kid) that is not in the identity "
                "provider's key set",
            )

    def describe(self) -> str:
        """The key set's URL."""
        return f"key set {self.url}"


def _fitting(jwk: jwt.PyJWK, alg: str) -> Result[VerifyingKey, AuthFailure]:
    if alg not in algorithms_for(jwk.key):
        return _fail(
            AuthFailureReason.BAD_ALGORITHM,
            f"the identity provider's key cannot verify a token signed with {alg}",
        )
    return Success(jwk)


@frozen(kw_only=True)
class SecretKeySource:
    """A shared HMAC secret (``HS*`` policies only: the policy refuses to mix)."""

    secret: bytes = field(repr=False)  # never printed, never logged

    def key_for(self, alg: str, kid: str | None) -> Result[VerifyingKey, AuthFailure]:
        """The secret, for HMAC algorithms only; ``kid`` is not used."""
        if alg not in _HMAC_ALGORITHMS:
            return _fail(
                AuthFailureReason.BAD_ALGORITHM, f"a shared secret cannot verify {alg} tokens"
            )
        return Success(self.secret)

    def describe(self) -> str:
        """Never the secret itself."""
        return "a shared secret (HMAC)"


def _unavailable() -> Failure[AuthFailure]:
    return _fail(
        AuthFailureReason.KEYS_UNAVAILABLE,
        "the identity provider's signing keys cannot be fetched right now; try again later",
    )


def _fail(reason: AuthFailureReason, message: str) -> Failure[AuthFailure]:
    return Failure(AuthFailure(reason=reason, message=message))
