"""The one JWT verifier: every attack in the catalogue refused for its reason, every
valid form accepted, the cache, the three key sources (file, JWKS, secret)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jwt
import pytest
from attrs import define
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from returns.pipeline import is_successful

from orch_core import AuthFailure, AuthFailureReason, Principal, SecurityPolicy
from orch_shell._keys import key_id
from orch_shell._verifier import CACHE_SIZE, JwtVerifier
from tests.token_attacks import ATTACKS, VALID_FORMS, Attack, TokenKit, claims_of
from tests.token_kit import attacker_ec, attacker_rsa, b64url

SECRET = "a shared secret of more than 32 bytes, for HS256"  # noqa: S105 - a test key


@pytest.fixture
def kit(tmp_path: Path) -> TokenKit:
    return TokenKit.create(tmp_path / "keys")


def verifier_for(policy: SecurityPolicy) -> JwtVerifier:
    return JwtVerifier.from_policy(policy).unwrap()


def refusal(verifier: JwtVerifier, token: str, now: float | None = None) -> AuthFailure:
    result = verifier.verify(token, time.time() if now is None else now)
    assert not is_successful(result), result
    return result.failure()


def expected_principal(kit: TokenKit, token: str) -> Principal:
    claims = claims_of(token)
    return Principal(
        subject=kit.subject,
        scopes=frozenset(kit.scopes),
        client_id=kit.client_id,
        token_id=claims["jti"],
        expires_at=float(claims["exp"]),
    )


def test_the_catalogue_covers_every_reason_and_names_each_case_once() -> None:
    names = [attack.name for attack in ATTACKS + VALID_FORMS]
    assert len(names) == len(set(names))
    assert all(attack.reason is not None for attack in ATTACKS)
    assert all(form.reason is None for form in VALID_FORMS)
    # KEYS_UNAVAILABLE needs a key set that cannot be fetched: see the JWKS tests.
    covered = {attack.reason for attack in ATTACKS}
    assert covered == set(AuthFailureReason) - {AuthFailureReason.KEYS_UNAVAILABLE}


@pytest.mark.parametrize("attack", ATTACKS, ids=str)
def test_every_attack_is_refused_for_its_reason_without_echoing_the_token(
    kit: TokenKit, attack: Attack
) -> None:
    token = attack.make(kit)
    failure = refusal(verifier_for(kit.policy(**attack.policy_overrides)), token)
    assert failure.reason == attack.reason, failure.message
    assert failure.message
    for part in token.split("."):
        assert len(part) < 8 or part not in failure.message


@pytest.mark.parametrize("form", VALID_FORMS, ids=str)
def test_every_valid_form_is_accepted_with_its_principal(kit: TokenKit, form: Attack) -> None:
    token = form.make(kit)
    verified = verifier_for(kit.policy(**form.policy_overrides)).verify(token, time.time())
    assert verified.unwrap() == expected_principal(kit, token)


def test_an_attack_is_refused_even_after_the_valid_token_was_cached(kit: TokenKit) -> None:
    verifier = verifier_for(kit.policy())
    assert is_successful(verifier.verify(kit.valid(), time.time()))
    for attack in ATTACKS:
        if not attack.policy_overrides:
            assert refusal(verifier, attack.make(kit)).reason == attack.reason, attack.name


def test_a_cached_token_is_refused_once_it_expires_and_leaves_the_cache(kit: TokenKit) -> None:
    now = float(int(time.time()))
    token = kit.valid(iat=int(now), nbf=int(now), exp=int(now) + 60)
    verifier = verifier_for(kit.policy(leeway_seconds=10))
    assert is_successful(verifier.verify(token, now))
    assert len(verifier._cache) == 1
    assert is_successful(verifier.verify(token, now + 69))  # within exp + leeway
    failure = refusal(verifier, token, now + 70)
    assert failure.reason is AuthFailureReason.EXPIRED
    assert "expired at" in failure.message
    assert verifier._cache == {}


def test_a_cache_hit_skips_the_signature_and_time_checks(kit: TokenKit) -> None:
    now = time.time()
    token = kit.valid(iat=int(now), nbf=int(now))
    verifier = verifier_for(kit.policy())
    assert is_successful(verifier.verify(token, now))
    # An hour earlier the token was not yet valid; only a cache hit accepts it.
    assert is_successful(verifier.verify(token, now - 3600))
    assert refusal(verifier_for(kit.policy()), token, now - 3600).reason == (
        AuthFailureReason.NOT_YET_VALID
    )


def test_the_cache_is_bounded_and_drops_the_oldest_first(kit: TokenKit) -> None:
    verifier = verifier_for(kit.policy())
    tokens = [kit.valid() for _ in range(CACHE_SIZE + 10)]
    for token in tokens:
        assert is_successful(verifier.verify(token, time.time()))
    assert len(verifier._cache) == CACHE_SIZE
    refused = [kit.valid(aud="elsewhere") for _ in range(5)]
    for token in refused:
        refusal(verifier, token)
    assert len(verifier._cache) == CACHE_SIZE  # refusals are never cached


def test_time_claims_are_judged_by_the_clock_passed_in(kit: TokenKit) -> None:
    issued = 1_000_000
    token = kit.valid(now=issued)  # valid from 1970-01-12 for an hour
    verifier = verifier_for(kit.policy())
    assert is_successful(verifier.verify(token, issued + 10))
    assert refusal(verifier_for(kit.policy()), token, issued - 3600).reason == (
        AuthFailureReason.NOT_YET_VALID
    )


@pytest.mark.parametrize(
    ("key", "algorithm"),
    [(attacker_ec, "ES256"), (attacker_rsa, "RS256"), (attacker_rsa, "PS384")],
    ids=["ec-p256", "rsa-pkcs1", "rsa-pss"],
)
def test_a_public_key_file_verifies_the_algorithms_that_fit_it(
    kit: TokenKit,
    tmp_path: Path,
    key: Callable[[], ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey],
    algorithm: str,
) -> None:
    private = key()
    public_file = tmp_path / "idp.pub.pem"
    public_file.write_bytes(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    policy = kit.policy(public_key_file=str(public_file), algorithms=(algorithm, "EdDSA"))
    kid = key_id(private.public_key())
    token = jwt.encode(kit.claims(), private, algorithm=algorithm, headers={"kid": kid})
    assert verifier_for(policy).verify(token, time.time()).unwrap().subject == kit.subject
    # The kit's Ed25519 token is allowed by the list but does not fit this key.
    assert refusal(verifier_for(policy), kit.valid()).reason is AuthFailureReason.BAD_ALGORITHM


def test_a_key_file_that_fits_no_allowed_algorithm_is_refused_at_start(
    kit: TokenKit, tmp_path: Path
) -> None:
    public_file = tmp_path / "rsa.pub.pem"
    public_file.write_bytes(
        attacker_rsa()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    built = JwtVerifier.from_policy(kit.policy(public_key_file=str(public_file)))
    assert built.failure().startswith("auth.public_key_file: ")
    assert "EdDSA" in built.failure()


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("missing.pem", None, "cannot read {path}: No such file or directory"),
        ("garbage.pem", b"hello", "{path} is not a PEM file"),
        ("private.pem", "private", "{path} holds a private key"),
    ],
)
def test_a_bad_key_file_names_the_setting_and_the_problem(
    kit: TokenKit, tmp_path: Path, name: str, content: bytes | str | None, expected: str
) -> None:
    path = tmp_path / name
    if content == "private":
        path.write_bytes(
            kit.private_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    elif isinstance(content, bytes):
        path.write_bytes(content)
    built = JwtVerifier.from_policy(kit.policy(public_key_file=str(path)))
    assert built.failure().startswith("auth.public_key_file: " + expected.format(path=path))


def test_hs256_with_a_long_secret_accepts_a_matching_token(kit: TokenKit) -> None:
    policy = SecurityPolicy(
        issuer=kit.issuer, audience=kit.audience, algorithms=("HS256",), secret=SECRET
    )
    verifier = verifier_for(policy)
    token = jwt.encode(kit.claims(), SECRET, algorithm="HS256")
    assert verifier.verify(token, time.time()).unwrap() == expected_principal(kit, token)
    forged = jwt.encode(kit.claims(), SECRET + "!", algorithm="HS256")
    assert refusal(verifier, forged).reason is AuthFailureReason.BAD_SIGNATURE
    assert refusal(verifier, kit.valid()).reason is AuthFailureReason.BAD_ALGORITHM
    assert SECRET not in verifier.describe()
    assert SECRET not in repr(verifier.policy)


@define
class KeySetServer:
    """A loopback JWKS endpoint that counts its requests and can stall or lie."""

    url: str
    body: bytes = b"{}"
    delay: float = 0.0
    requests: int = 0


@pytest.fixture
def key_set() -> Iterator[KeySetServer]:
    state = KeySetServer(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests += 1
            time.sleep(state.delay)
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(state.body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting: that is the point of the slow case

        def log_message(self, _format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def jwks_of(kit: TokenKit) -> bytes:
    public = kit.private_key.public_key()
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw), "kid": kit.kid, "use": "sig"}
    return json.dumps({"keys": [jwk]}).encode()


def jwks_policy(kit: TokenKit, url: str) -> SecurityPolicy:
    return SecurityPolicy(
        issuer=kit.issuer,
        audience=kit.audience,
        algorithms=("EdDSA",),
        jwks_url=url,
        jwks_timeout_seconds=0.2,
    )


def test_jwks_verifies_a_token_by_kid_and_fetches_once(
    kit: TokenKit, key_set: KeySetServer
) -> None:
    key_set.body = jwks_of(kit)
    verifier = verifier_for(jwks_policy(kit, key_set.url))
    assert key_set.requests == 0  # nothing is fetched before the first token
    first, second = (kit.valid(header={"kid": kit.kid}) for _ in range(2))
    assert verifier.verify(first, time.time()).unwrap() == expected_principal(kit, first)
    assert verifier.verify(second, time.time()).unwrap() == expected_principal(kit, second)
    assert key_set.requests == 1
    assert key_set.url in verifier.describe()


def test_jwks_refuses_an_unknown_kid_and_a_token_without_one(
    kit: TokenKit, key_set: KeySetServer
) -> None:
    key_set.body = jwks_of(kit)
    verifier = verifier_for(jwks_policy(kit, key_set.url))
    unknown = refusal(verifier, kit.valid(header={"kid": "rotated-away"}))
    assert unknown.reason is AuthFailureReason.UNKNOWN_KEY
    assert refusal(verifier, kit.valid()).reason is AuthFailureReason.UNKNOWN_KEY
    assert key_set.requests == 1  # the unknown kid did not trigger a second fetch at once


def test_jwks_that_is_too_slow_is_unavailable_quickly(kit: TokenKit, key_set: KeySetServer) -> None:
    key_set.body, key_set.delay = jwks_of(kit), 2.0
    verifier = verifier_for(jwks_policy(kit, key_set.url))
    started = time.monotonic()
    failure = refusal(verifier, kit.valid(header={"kid": kit.kid}))
    assert failure.reason is AuthFailureReason.KEYS_UNAVAILABLE
    assert time.monotonic() - started < 1.5
    assert key_set.url not in failure.message


@pytest.mark.parametrize("body", [b"<html>down for maintenance</html>", b"[]", b'{"keys": []}'])
def test_jwks_that_is_not_a_key_set_is_unavailable(
    kit: TokenKit, key_set: KeySetServer, body: bytes
) -> None:
    key_set.body = body
    failure = refusal(verifier_for(jwks_policy(kit, key_set.url)), kit.valid(header={"kid": "k"}))
    assert failure.reason is AuthFailureReason.KEYS_UNAVAILABLE


def test_jwks_with_nobody_listening_is_unavailable(kit: TokenKit) -> None:
    verifier = verifier_for(jwks_policy(kit, "http://127.0.0.1:9/jwks.json"))
    failure = refusal(verifier, kit.valid(header={"kid": kit.kid}))
    assert failure.reason is AuthFailureReason.KEYS_UNAVAILABLE
