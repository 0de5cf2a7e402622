"""A catalogue of forged, broken and borderline bearer tokens, and valid ones.

Shared by the verifier's unit tests and the end-to-end tests (stdio and HTTP),
so every transport is held to the same list. Each :class:`Attack` makes its
token from a :class:`TokenKit` and names the :class:`AuthFailureReason` it must
be refused with; ``reason=None`` marks the valid forms (``VALID_FORMS``), which
must be accepted. An attack that needs a policy other than the kit's default
carries ``policy_overrides`` (``kit.policy(**attack.policy_overrides)``).
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any

import jwt
from attrs import field, frozen
from cryptography.hazmat.primitives import serialization

from orch_core import AuthFailureReason
from tests.token_kit import (
    HOUR,
    TokenKit,
    attacker_certificate_der,
    attacker_ec,
    attacker_ed25519,
    attacker_public_jwk,
    attacker_rsa,
    b64url,
    claims_of,
    compact,
    hmac_signer,
    json_bytes,
    no_signature,
)

__all__ = ["ATTACKS", "VALID_FORMS", "Attack", "TokenKit", "claims_of"]


@frozen(kw_only=True)
class Attack:
    """One token to present; ``reason`` is why it must be refused (``None``: accepted)."""

    name: str
    make: Callable[[TokenKit], str]
    reason: AuthFailureReason | None
    policy_overrides: Mapping[str, Any] = field(factory=dict)

    def __str__(self) -> str:
        return self.name


def _with_segment(token: str, index: int, change: Callable[[str], str]) -> str:
    parts = token.split(".")
    parts[index] = change(parts[index])
    return ".".join(parts)


def _flip_middle(segment: str) -> str:
    middle = len(segment) // 2
    replacement = "A" if segment[middle] != "A" else "B"
    return segment[:middle] + replacement + segment[middle + 1 :]


def _escalated(kit: TokenKit) -> str:
    """A valid token whose payload is swapped for one granting admin, not re-signed."""
    forged = b64url(json_bytes({**claims_of(kit.valid()), "scope": "orch:admin"}))
    return _with_segment(kit.valid(), 1, lambda _: forged)


def _public_key_secrets(kit: TokenKit) -> dict[str, bytes]:
    """The server's public key in every form a confused verifier might use as an
    HMAC secret (the classic RS256 → HS256 key-confusion attack)."""
    pem = kit.public_key_file.read_bytes()
    public = kit.private_key.public_key()
    jwk = jwt.algorithms.OKPAlgorithm.to_jwk(public)
    return {
        "pem": pem,
        "pem-crlf": pem.replace(b"\n", b"\r\n"),
        "pem-stripped": pem.strip(),
        "der": public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "raw": public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw),
        "jwk": jwk.encode(),
    }


def _key_confusion(form: str) -> Callable[[TokenKit], str]:
    def make(kit: TokenKit) -> str:
        secret = _public_key_secrets(kit)[form]
        return compact({"alg": "HS256", "typ": "JWT"}, kit.claims(), hmac_signer(secret))

    return make


def _alg_none(spelling: str, *, signed: bool) -> Callable[[TokenKit], str]:
    def make(kit: TokenKit) -> str:
        sign = kit.private_key.sign if signed else no_signature
        return compact({"alg": spelling, "typ": "JWT"}, kit.claims(), sign)

    return make


def _sized(kit: TokenKit, size: int, *, over: bool = False) -> str:
    """The longest valid token of at most ``size`` characters (one filler character
    more when ``over``): base64 grows by one or two characters per byte."""
    filler = max(0, (size - len(kit.valid())) * 3 // 4 - 16)
    while len(kit.valid(filler="x" * (filler + 1))) <= size:
        filler += 1
    return kit.valid(filler="x" * (filler + 1 if over else filler))


def _detached(kit: TokenKit, header: Mapping[str, Any]) -> str:
    """An RFC 7797 token: empty payload segment, signature over the raw payload."""
    encoded_header = b64url(json_bytes({"alg": "EdDSA", **header}))
    signature = kit.private_key.sign(f"{encoded_header}.".encode() + json_bytes(kit.claims()))
    return f"{encoded_header}..{b64url(signature)}"


def _dropping(claim: str) -> Callable[[TokenKit], str]:
    return lambda kit: kit.valid(drop=[claim])


def _exp_nan(kit: TokenKit) -> str:
    payload = json.dumps({**kit.claims(), "exp": float("nan")}).encode()  # emits NaN
    return compact({"alg": "EdDSA", "typ": "JWT"}, payload, kit.private_key.sign)


def _now() -> int:
    return int(time.time())


def _rs256(kit: TokenKit) -> str:
    return jwt.encode(kit.claims(), attacker_rsa(), algorithm="RS256")


def _hs512(kit: TokenKit) -> str:
    secret = secrets.token_bytes(64)
    return compact({"alg": "HS512", "typ": "JWT"}, kit.claims(), hmac_signer(secret, "sha512"))


def _attacker_signed(header: Callable[[], dict[str, Any]]) -> Callable[[TokenKit], str]:
    return lambda kit: kit.valid(header=header(), key=attacker_ed25519())


def _attacker_kid(kit: TokenKit) -> str:
    return kit.valid(header={"kid": attacker_public_jwk()["kid"]}, key=attacker_ed25519())


Make = Callable[[TokenKit], str]
BAD = AuthFailureReason
_REFUSED: dict[AuthFailureReason, dict[str, Make]] = {
    BAD.MISSING: {"empty-bearer": lambda _: "", "whitespace-bearer": lambda _: "  \t"},
    BAD.TOO_LARGE: {
        "one-megabyte": lambda kit: kit.valid(filler="x" * (1 << 20)),
        "just-over-the-size-limit": lambda kit: _sized(kit, 8192, over=True),
    },
    BAD.MALFORMED: {
        "not-a-jwt": lambda _: "not a token",
        "two-segments": lambda kit: kit.valid().rsplit(".", 1)[0],
        "five-segments-jwe-shape": lambda kit: kit.valid() + ".AAAA.BBBB",
        "header-not-json": lambda kit: _with_segment(kit.valid(), 0, lambda _: b64url(b"{alg")),
        "header-a-json-list": lambda kit: _with_segment(kit.valid(), 0, lambda _: b64url(b"[1]")),
        "non-ascii": lambda kit: kit.valid() + "\u00e9",
    },
    BAD.BAD_HEADER: {
        "crit-unknown-extension": lambda kit: kit.valid(header={"crit": ["exp"], "exp": 1}),
        "crit-b64-unencoded-payload": lambda kit: _detached(kit, {"crit": ["b64"], "b64": False}),
        "b64-without-crit": lambda kit: _detached(kit, {"b64": False}),
        "kid-not-a-string": lambda kit: kit.valid(header={"kid": 7}),
    },
    BAD.BAD_ALGORITHM: {
        **{
            f"alg-{spelling}-{kind}": _alg_none(spelling, signed=kind == "signed")
            for spelling in ("none", "None", "NONE", "nOnE")
            for kind in ("unsigned", "signed")
        },
        **{
            f"hs256-keyed-with-public-key-{form}": _key_confusion(form)
            for form in ("pem", "pem-crlf", "pem-stripped", "der", "raw", "jwk")
        },
        "rs256-from-another-rsa-key": _rs256,
        "hs512-random-secret": _hs512,
        "alg-lowercase-eddsa": lambda kit: kit.valid(header={"alg": "eddsa"}),
        "alg-missing": lambda kit: kit.valid(drop_header=["alg"]),
        "alg-as-list": lambda kit: kit.valid(header={"alg": ["EdDSA"]}),
    },
    BAD.UNKNOWN_KEY: {
        "kid-names-an-unknown-key": lambda kit: kit.valid(header={"kid": "no-such-key"}),
        "kid-of-the-attacker-key": _attacker_kid,
    },
    BAD.BAD_SIGNATURE: {
        "payload-base64-char-flipped": lambda kit: _with_segment(kit.valid(), 1, _flip_middle),
        "payload-swapped-for-admin-scope": _escalated,
        "signature-char-flipped": lambda kit: _with_segment(kit.valid(), 2, _flip_middle),
        "signature-stripped": lambda kit: _with_segment(kit.valid(), 2, lambda _: ""),
        "signature-truncated": lambda kit: _with_segment(kit.valid(), 2, lambda s: s[:40]),
        "signed-by-another-ed25519-key": lambda kit: kit.valid(key=attacker_ed25519()),
        # The key comes from the policy only: headers naming the attacker's key are ignored.
        "jwk-header-embeds-attacker-key": _attacker_signed(lambda: {"jwk": attacker_public_jwk()}),
        "jku-header-points-at-attacker": _attacker_signed(lambda: {"jku": "https://evil.test/k"}),
        "x5u-header-points-at-attacker": _attacker_signed(lambda: {"x5u": "https://evil.test/c"}),
        "x5c-header-holds-attacker-cert": _attacker_signed(
            lambda: {"x5c": [base64.b64encode(attacker_certificate_der()).decode()]}
        ),
    },
    BAD.EXPIRED: {
        "expired": lambda kit: kit.valid(iat=_now() - 2 * HOUR, exp=_now() - HOUR),
        "expired-just-beyond-leeway": lambda kit: kit.valid(exp=_now() - 40),
    },
    BAD.NOT_YET_VALID: {
        "nbf-in-the-future": lambda kit: kit.valid(nbf=_now() + HOUR),
        "iat-in-the-future": lambda kit: kit.valid(iat=_now() + HOUR),
    },
    BAD.BAD_CLAIMS: {
        **{f"missing-{claim}": _dropping(claim) for claim in ("exp", "iat", "iss", "aud", "sub")},
        "aud-null": lambda kit: kit.valid(aud=None),
        "wrong-aud": lambda kit: kit.valid(aud="another-service"),
        "aud-list-without-ours": lambda kit: kit.valid(aud=["another-service", "orch2"]),
        "aud-empty-list": lambda kit: kit.valid(aud=[]),
        "wrong-iss": lambda kit: kit.valid(iss="https://attacker.example"),
        "sub-empty": lambda kit: kit.valid(sub=""),
        "sub-a-number": lambda kit: kit.valid(sub=42),
        "scope-a-list": lambda kit: kit.valid(scope=["orch:admin"]),
        "exp-a-string": lambda kit: kit.valid(exp="tomorrow"),
        "exp-nan": _exp_nan,
        "exp-beyond-year-9999": lambda kit: kit.valid(exp=1e300),
        "exp-a-400-digit-number": lambda kit: kit.valid(exp=10**400),
        "iat-negative": lambda kit: kit.valid(iat=-1),
        "nbf-null": lambda kit: kit.valid(nbf=None),
    },
}

ATTACKS: tuple[Attack, ...] = (
    *(
        Attack(name=name, make=make, reason=reason)
        for reason, makes in _REFUSED.items()
        for name, make in makes.items()
    ),
    Attack(
        name="es256-allowed-but-not-the-key-type",
        make=lambda kit: jwt.encode(kit.claims(), attacker_ec(), algorithm="ES256"),
        reason=BAD.BAD_ALGORITHM,
        policy_overrides={"algorithms": ("EdDSA", "ES256")},
    ),
    Attack(
        name="wrong-typ",
        make=lambda kit: kit.valid(header={"typ": "JWT"}),
        reason=BAD.BAD_HEADER,
        policy_overrides={"token_type": "at+jwt"},
    ),
    Attack(
        name="typ-missing",
        make=lambda kit: kit.valid(drop_header=["typ"]),
        reason=BAD.BAD_HEADER,
        policy_overrides={"token_type": "at+jwt"},
    ),
)
"""Every token orch must refuse, with the reason it must give."""

_AT_JWT = {"token_type": "at+jwt"}
VALID_FORMS: tuple[Attack, ...] = (
    Attack(name="plain", make=lambda kit: kit.valid(), reason=None),
    Attack(name="minted-by-orch", make=lambda kit: kit.minted(), reason=None),
    Attack(name="with-kid", make=lambda kit: kit.valid(header={"kid": kit.kid}), reason=None),
    Attack(
        name="with-typ",
        make=lambda kit: kit.valid(header={"typ": "at+jwt"}),
        reason=None,
        policy_overrides=_AT_JWT,
    ),
    Attack(
        name="with-typ-as-media-type",
        make=lambda kit: kit.valid(header={"typ": "application/AT+JWT"}),
        reason=None,
        policy_overrides=_AT_JWT,
    ),
    Attack(
        name="aud-list-with-ours",
        make=lambda kit: kit.valid(aud=["another-service", kit.audience]),
        reason=None,
    ),
    Attack(
        name="scp-instead-of-scope",
        make=lambda kit: kit.valid(drop=["scope"], scp=list(kit.scopes)),
        reason=None,
    ),
    Attack(name="expired-within-leeway", make=lambda kit: kit.valid(exp=_now() - 5), reason=None),
    Attack(name="at-the-size-limit", make=lambda kit: _sized(kit, 8192), reason=None),
)
"""The valid token in each form the attacks mutate: acceptance must be possible."""
