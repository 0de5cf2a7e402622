"""The one JWT verifier, used by both transports (stdio and HTTP).

Theory of operation, in the order a token meets it:

1. size first: an empty token is *missing*, one over ``max_token_bytes`` is
   refused before a single byte is decoded;
2. the header, unverified, may only narrow what is accepted: no ``crit`` or
   ``b64`` extension, an ``alg`` from the policy's list (exact case, so no
   ``none`` in any spelling), the policy's ``typ`` if it sets one;
3. the key comes from the policy's key source (``_key_source``) and must fit
   the ``alg``; a ``kid`` may only pick among the policy's keys;
4. PyJWT checks the signature and ``iss``/``aud``/required claims; the times
   (``exp``, ``nbf``, ``iat``) are checked here against the ``now`` passed in,
   because PyJWT 2.x reads the system clock and has no parameter for it;
5. the core turns the claims into a :class:`Principal`.

Messages are safe to show the caller: they never contain the token or a key.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from typing import Any, Final

import jwt
from jwt.exceptions import InvalidJTIError, InvalidSubjectError
from returns.result import Failure, Result, Success

from orch_core import (
    AuthFailure,
    AuthFailureReason,
    Principal,
    SecurityPolicy,
    principal_from_claims,
    still_valid,
)

from ._key_source import KeySource, VerifyingKey, key_source_for

CACHE_SIZE: Final = 256
MAX_TIME: Final = 253_402_300_799
"""9999-12-31T23:59:59Z: larger times are no dates (and break date formatting)."""

Reason = AuthFailureReason
_DECODE_ERRORS: Final[tuple[tuple[type[jwt.PyJWTError], AuthFailureReason, str], ...]] = (
    # Order matters: InvalidSignatureError is a DecodeError, and all are InvalidTokenErrors.
    (jwt.InvalidSignatureError, Reason.BAD_SIGNATURE, "the token's signature does not verify"),
    # The two time errors cannot occur while PyJWT's time checks are off (see _decode);
    # mapped anyway, so switching them on cannot turn "expired" into "malformed".
    (jwt.ExpiredSignatureError, Reason.EXPIRED, "the token is expired"),
    (jwt.ImmatureSignatureError, Reason.NOT_YET_VALID, "the token is not valid yet"),
    (jwt.InvalidAudienceError, Reason.BAD_CLAIMS, "the token was issued for another audience"),
    (jwt.InvalidIssuerError, Reason.BAD_CLAIMS, "the token was issued by another issuer"),
    (jwt.InvalidIssuedAtError, Reason.BAD_CLAIMS, "the token's 'iat' is not a time"),
    (InvalidSubjectError, Reason.BAD_CLAIMS, "the token's 'sub' is not a string"),
    (InvalidJTIError, Reason.BAD_CLAIMS, "the token's 'jti' is not a string"),
    (jwt.InvalidAlgorithmError, Reason.BAD_ALGORITHM, "the token's algorithm does not fit the key"),
    (jwt.InvalidKeyError, Reason.BAD_ALGORITHM, "the token's algorithm does not fit the key"),
    (jwt.DecodeError, Reason.MALFORMED, "the token is not a well-formed JWT"),
)


class JwtVerifier:
    """Checks bearer tokens against one :class:`SecurityPolicy`.

    Tokens that verified are remembered (up to ``CACHE_SIZE``, by digest, never
    the token itself), so a client sending the same token on every call costs a
    dictionary lookup; a remembered token is still refused the moment it expires.
    Safe to share between threads.
    """

    def __init__(self, *, policy: SecurityPolicy, keys: KeySource) -> None:
        self._policy = policy
        self._keys = keys
        self._cache: dict[bytes, Principal] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_policy(cls, policy: SecurityPolicy) -> Result[JwtVerifier, str]:
        """The verifier for ``policy``, or why its key source cannot be loaded
        (naming the setting, e.g. ``auth.public_key_file: cannot read ...``)."""
        return key_source_for(policy).map(lambda keys: cls(policy=policy, keys=keys))

    @property
    def policy(self) -> SecurityPolicy:
        """The policy this verifier enforces."""
        return self._policy

    def describe(self) -> str:
        """One line for the server log (never the secret)."""
        policy = self._policy
        return (
            f"JWT ({', '.join(policy.algorithms)}) from issuer {policy.issuer!r} for audience "
            f"{policy.audience!r}, verified with {self._keys.describe()}"
        )

    def verify(self, token: str, now: float) -> Result[Principal, AuthFailure]:
        """The principal ``token`` stands for at ``now`` (Unix seconds), or why not."""
        if not token.strip():
            return _fail(Reason.MISSING, "no token was given")
        limit = self._policy.max_token_bytes
        if len(token) > limit or len(token.encode("utf-8", "surrogatepass")) > limit:
            return _fail(Reason.TOO_LARGE, f"the token is larger than {limit} bytes")
        if not token.isascii():
            return _fail(Reason.MALFORMED, "the token is not a well-formed JWT")
        digest = hashlib.sha256(token.encode()).digest()
        with self._lock:
            cached = self._cache.get(digest)
        if cached is not None:
            checked = still_valid(cached, now, self._policy.leeway_seconds)
            if isinstance(checked, Failure):
                with self._lock:
                    self._cache.pop(digest, None)
            return checked
        verified = self._verify_uncached(token, now)
        if isinstance(verified, Success):
            self._remember(digest, verified.unwrap())
        return verified

    def _remember(self, digest: bytes, principal: Principal) -> None:
        with self._lock:
            self._cache[digest] = principal
            while len(self._cache) > CACHE_SIZE:
                del self._cache[next(iter(self._cache))]  # the oldest entry

    def _verify_uncached(self, token: str, now: float) -> Result[Principal, AuthFailure]:
        policy = self._policy
        picked = _header(token).bind(lambda header: check_header(header, policy))
        if isinstance(picked, Failure):
            return Failure(picked.failure())
        alg, kid = picked.unwrap()
        return (
            self._keys.key_for(alg, kid)
            .bind(lambda key: _decode(token, alg, key, policy))
            .bind(lambda claims: check_times(claims, now, policy.leeway_seconds))
            .bind(principal_from_claims)
            .bind(lambda principal: still_valid(principal, now, policy.leeway_seconds))
        )


def _header(token: str) -> Result[dict[str, Any], AuthFailure]:
    try:
        return Success(jwt.get_unverified_header(token))
    except jwt.DecodeError:
        return _fail(Reason.MALFORMED, "the token is not a well-formed JWT")
    except jwt.InvalidTokenError:
        # PyJWT's own header checks: a 'crit' it does not know, a 'kid' not a string.
        return _fail(
            Reason.BAD_HEADER, "the token's header has an unsupported 'crit' or a bad 'kid'"
        )


def check_header(
    header: Mapping[str, object], policy: SecurityPolicy
) -> Result[tuple[str, str | None], AuthFailure]:
    """The ``alg`` and ``kid`` of an acceptable (still unverified) header.

    ``jku``, ``x5u``, ``x5c``, ``x5t`` and an embedded ``jwk`` are ignored on
    purpose: the verifying key comes only from the policy, so a token cannot
    bring the key it is to be checked with.
    """
    if "crit" in header:
        return _fail(
            Reason.BAD_HEADER,
            "the token marks header extensions critical (crit); orch supports none",
        )
    if "b64" in header:
        return _fail(Reason.BAD_HEADER, "the token uses an unencoded payload (b64); orch does not")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in policy.algorithms:
        shown = f" {alg}" if isinstance(alg, str) and alg.isalnum() and len(alg) <= 10 else ""
        return _fail(
            Reason.BAD_ALGORITHM,
            f"the token's algorithm{shown} is not accepted (allowed: "
            f"{', '.join(policy.algorithms)})",
        )
    if policy.token_type is not None:
        typ = header.get("typ")
        if not isinstance(typ, str) or _media_type(typ) != _media_type(policy.token_type):
            return _fail(Reason.BAD_HEADER, f"the token's type (typ) must be {policy.token_type}")
    kid = header.get("kid")
    return Success((alg, kid if isinstance(kid, str) else None))


def _media_type(typ: str) -> str:
    """RFC 7515 §4.1.9: ``application/`` may be left out of ``typ``; case is ignored."""
    lowered = typ.lower()
    rest = lowered.removeprefix("application/")
    return rest if "/" not in rest else lowered


def _decode(
    token: str, alg: str, key: VerifyingKey, policy: SecurityPolicy
) -> Result[dict[str, Any], AuthFailure]:
    try:
        return Success(
            jwt.decode(
                token,
                key,
                algorithms=[alg],  # the one the header names, already checked against the policy
                audience=policy.audience,
                issuer=policy.issuer,
                options={
                    "require": list(policy.required_claims),
                    "verify_signature": True,
                    # Times are checked by check_times against the caller's clock.
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "verify_aud": True,
                    "verify_iss": True,
                    "verify_sub": True,
                    "verify_jti": True,
                },
            )
        )
    except jwt.MissingRequiredClaimError as error:
        return _fail(Reason.BAD_CLAIMS, f"the token lacks the required claim {error.claim!r}")
    except jwt.PyJWTError as error:
        for kind, reason, message in _DECODE_ERRORS:
            if isinstance(error, kind):
                return _fail(reason, message)
        return _fail(Reason.MALFORMED, "the token is not acceptable")


def check_times(
    claims: dict[str, Any], now: float, leeway: float
) -> Result[dict[str, Any], AuthFailure]:
    """``claims`` if ``nbf`` and ``iat`` are not beyond ``now`` + ``leeway`` and all
    three times are numbers; ``exp`` itself is judged by the core's ``still_valid``.

    >>> print(check_times({"iat": 200}, now=100, leeway=30).failure().message)
    the token claims to be issued in the future
    """
    times: dict[str, float] = {}
    for name in ("exp", "nbf", "iat"):
        if name not in claims:
            continue
        value = claims[name]  # null is no time either (RFC 7519 §2: a NumericDate)
        # A range check, not math.isfinite: that raises on a 400-digit integer. NaN
        # and infinities fail the comparison.
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not 0 <= value <= MAX_TIME
        ):
            return _fail(Reason.BAD_CLAIMS, f"the token's {name!r} is not a time in Unix seconds")
        times[name] = value
    if times.get("nbf", 0) > now + leeway:
        return _fail(Reason.NOT_YET_VALID, "the token is not valid yet (nbf)")
    if times.get("iat", 0) > now + leeway:
        return _fail(Reason.NOT_YET_VALID, "the token claims to be issued in the future")
    return Success(claims)


def _fail(reason: AuthFailureReason, message: str) -> Failure[AuthFailure]:
    return Failure(AuthFailure(reason=reason, message=message))
