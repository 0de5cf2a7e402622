"""A key pair that signs test tokens, and hand-made JWS helpers.

A :class:`TokenKit` owns an Ed25519 key pair in a directory
(``TokenKit.create(paths.keys_dir)`` uses the file names ``orch init`` uses, so a
server started on that folder trusts it) and makes valid tokens with any claim
or header changed. :func:`compact` assembles a token by hand: PyJWT refuses to
make several of the forgeries in ``token_attacks`` (``alg: none`` with a
signature, HS256 keyed with a PEM key). Tokens are made from the wall clock at
call time, so they are fresh whenever a test makes them.
"""

from __future__ import annotations

import base64
import datetime
import functools
import hmac
import json
import secrets
import time
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

from attrs import evolve, frozen
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID

from orch_core import (
    AGENTS_WRITE,
    LOCAL_AUDIENCE,
    LOCAL_ISSUER,
    SESSIONS_READ,
    SecurityPolicy,
)
from orch_core._security import local_policy
from orch_shell._keys import create_key_pair, key_id, load_private_key, mint_token
from orch_shell._paths import PUBLIC_KEY_NAME, SIGNING_KEY_NAME

HOUR = 3600
Signer = Callable[[bytes], bytes]


def b64url(data: bytes) -> str:
    """Base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    """The bytes of a base64url segment, padded or not (raises ``ValueError``)."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def compact(header: Mapping[str, Any], payload: Mapping[str, Any] | bytes, sign: Signer) -> str:
    """A compact JWS: ``header`` and ``payload`` as JSON, signed by ``sign`` over
    ``b64(header).b64(payload)``; ``payload`` may be raw bytes (e.g. JSON with NaN)."""
    body = payload if isinstance(payload, bytes) else json_bytes(payload)
    signing_input = f"{b64url(json_bytes(header))}.{b64url(body)}"
    return f"{signing_input}.{b64url(sign(signing_input.encode()))}"


def json_bytes(value: Mapping[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def segments(token: str) -> tuple[bytes, bytes, bytes]:
    """The decoded header, payload and signature bytes (raises ``ValueError``)."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("not three segments")
    header, payload, signature = (unb64url(part) for part in parts)
    return header, payload, signature


def claims_of(token: str) -> dict[str, Any]:
    """The payload, unverified: what a test expects the principal to say."""
    claims: dict[str, Any] = json.loads(segments(token)[1])
    return claims


def hmac_signer(secret: bytes, digest: str = "sha256") -> Signer:
    """Sign with HMAC over ``secret`` (by hand: PyJWT refuses PEM-looking secrets)."""
    return lambda message: hmac.new(secret, message, digest).digest()


def no_signature(_message: bytes) -> bytes:
    return b""


@functools.cache
def attacker_ed25519() -> Ed25519PrivateKey:
    """Another Ed25519 key: what an attacker signs with."""
    return Ed25519PrivateKey.generate()


@functools.cache
def attacker_rsa() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@functools.cache
def attacker_ec() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def attacker_public_jwk() -> dict[str, Any]:
    """The attacker's public key as a JWK, with its thumbprint as ``kid``."""
    public = attacker_ed25519().public_key()
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw), "kid": key_id(public)}


def attacker_certificate_der() -> bytes:
    """A self-signed certificate for the attacker's key (for an ``x5c`` header)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "orch")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(attacker_ed25519().public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(attacker_ed25519(), None)
    )
    return certificate.public_bytes(serialization.Encoding.DER)


@frozen(kw_only=True)
class TokenKit:
    """A signing key, its public PEM file, and the claims of a valid token."""

    private_key: Ed25519PrivateKey
    public_key_file: Path
    issuer: str = LOCAL_ISSUER
    audience: str = LOCAL_AUDIENCE
    subject: str = "ann"
    scopes: tuple[str, ...] = (SESSIONS_READ, AGENTS_WRITE)
    client_id: str = "attack-catalogue"

    @classmethod
    def create(cls, keys_dir: Path, **fields: Any) -> TokenKit:
        """The kit for the key pair in ``keys_dir`` (made if missing, as ``orch init`` does)."""
        private, public = keys_dir / SIGNING_KEY_NAME, keys_dir / PUBLIC_KEY_NAME
        create_key_pair(private, public).unwrap()
        return cls(private_key=load_private_key(private).unwrap(), public_key_file=public, **fields)

    @property
    def kid(self) -> str:
        """The ``kid`` orch puts in the tokens it mints with this key."""
        return key_id(self.private_key.public_key())

    def policy(self, **overrides: Any) -> SecurityPolicy:
        """The local policy for this kit's public key, with ``overrides``."""
        base = local_policy(str(self.public_key_file))
        return evolve(base, **{"issuer": self.issuer, "audience": self.audience, **overrides})

    def claims(self, now: float | None = None) -> dict[str, Any]:
        """The claims of a valid token issued at ``now`` (default: the wall clock)."""
        issued = int(time.time() if now is None else now)
        return {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": self.subject,
            "iat": issued,
            "nbf": issued,
            "exp": issued + HOUR,
            "jti": secrets.token_hex(8),
            "scope": " ".join(self.scopes),
            "client_id": self.client_id,
        }

    def valid(
        self,
        *,
        header: Mapping[str, Any] | None = None,
        drop_header: Collection[str] = (),
        drop: Collection[str] = (),
        key: Ed25519PrivateKey | None = None,
        now: float | None = None,
        **claims: Any,
    ) -> str:
        """A valid EdDSA token, with ``claims`` and ``header`` laid over the defaults
        and the ``drop``/``drop_header`` names removed; signed by ``key`` (the kit's own
        by default), so it differs from a valid token only where asked."""
        payload = {**self.claims(now), **claims}
        fields = {**{"alg": "EdDSA", "typ": "JWT"}, **(header or {})}
        return compact(
            {name: value for name, value in fields.items() if name not in drop_header},
            {name: value for name, value in payload.items() if name not in drop},
            (key or self.private_key).sign,
        )

    def minted(self, ttl_seconds: float = HOUR) -> str:
        """A token exactly as ``orch init`` / ``orch token issue`` mint it."""
        return mint_token(
            self.private_key,
            issuer=self.issuer,
            audience=self.audience,
            subject=self.subject,
            scopes=self.scopes,
            ttl_seconds=ttl_seconds,
            now=time.time(),
            client_id=self.client_id,
        )
