"""Keys and tokens of the local issuer: key files, key ids, minting, durations.

The key files themselves are handled in ``_key_files`` (re-exported here, so
``_keys`` is the one place to import from). Tokens are EdDSA JWTs whose
``kid`` is the RFC 7638 thumbprint of the signing key's public half.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from collections.abc import Sequence
from typing import Final

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from returns.result import Failure, Result, Success

from ._key_files import (
    EC_CURVES,
    KeyFileError,
    PublicKey,
    create_key_pair,
    load_private_key,
    load_public_key,
    write_private_text,
)

__all__ = [
    "KeyFileError",
    "PublicKey",
    "create_key_pair",
    "key_id",
    "load_private_key",
    "load_public_key",
    "mint_token",
    "parse_duration",
    "write_private_text",
]

MAX_DURATION_SECONDS: Final = 5 * 365.25 * 86_400
_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_DURATION: Final = re.compile(r"(\d{1,12})([smhdw])")


def key_id(public_key: PublicKey) -> str:
    """The RFC 7638 JWK thumbprint: base64url SHA-256 of the key's canonical JWK.

    Tokens orch mints carry it as ``kid``, so a server holding another key says
    "unknown key" instead of "bad signature", which points at the real problem.
    """
    canonical = json.dumps(_thumbprint_members(public_key), separators=(",", ":"), sort_keys=True)
    return _b64(hashlib.sha256(canonical.encode()).digest())


def _thumbprint_members(public_key: PublicKey) -> dict[str, str]:
    """The required JWK members (RFC 7638 §3.2), nothing else."""
    if isinstance(public_key, Ed25519PublicKey):
        raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"crv": "Ed25519", "kty": "OKP", "x": _b64(raw)}
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        point = public_key.public_numbers()
        size = (public_key.curve.key_size + 7) // 8
        return {
            "crv": EC_CURVES.get(public_key.curve.name, public_key.curve.name),
            "kty": "EC",
            "x": _b64(point.x.to_bytes(size, "big")),
            "y": _b64(point.y.to_bytes(size, "big")),
        }
    numbers = public_key.public_numbers()
    return {"e": _b64(_unsigned(numbers.e)), "kty": "RSA", "n": _b64(_unsigned(numbers.n))}


def _unsigned(value: int) -> bytes:
    return value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def mint_token(
    private_key: Ed25519PrivateKey,
    *,
    issuer: str,
    audience: str,
    subject: str,
    scopes: Sequence[str],
    ttl_seconds: float,
    now: float,
    client_id: str | None = None,
) -> str:
    """A signed EdDSA token for ``subject`` with ``scopes``, valid from ``now`` for
    ``ttl_seconds``; a random ``jti`` tells tokens apart in the audit log."""
    claims: dict[str, object] = {
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "iat": int(now),
        "nbf": int(now),
        "exp": int(now + ttl_seconds),
        "jti": secrets.token_hex(16),
        "scope": " ".join(scopes),
    }
    if client_id is not None:
        claims["client_id"] = client_id
    header = {"typ": "JWT", "kid": key_id(private_key.public_key())}
    return jwt.encode(claims, private_key, algorithm="EdDSA", headers=header)


def parse_duration(text: str) -> Result[float, str]:
    """Seconds in ``text``: a whole number and a unit (``s``, ``m``, ``h``, ``d``, ``w``).

    Months and years are left out on purpose: ``15m`` is minutes, never months.

    >>> parse_duration("15m"), parse_duration("7d")
    (<Success: 900.0>, <Success: 604800.0>)
    >>> print(parse_duration("0s").failure())
    a duration must be more than zero, got '0s'
    """
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        return Failure(
            f"expected a whole number and a unit (s, m, h, d or w), e.g. 15m or 7d; got {text!r}"
        )
    seconds = float(int(match[1]) * _UNITS[match[2]])
    if seconds <= 0:
        return Failure(f"a duration must be more than zero, got {text!r}")
    if seconds > MAX_DURATION_SECONDS:
        return Failure(f"a duration must be at most 5 years, got {text!r}")
    return Success(seconds)
