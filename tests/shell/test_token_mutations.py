"""Property: no change to a valid token's text is accepted, unless the changed text
is the same token (the same header, payload and signature bytes, e.g. with
base64 padding added), in which case it stands for the same principal."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from attrs import frozen
from hypothesis import given, settings
from hypothesis import strategies as st
from returns.pipeline import is_successful

from orch_core import Principal
from orch_shell._verifier import JwtVerifier
from tests.token_attacks import TokenKit
from tests.token_kit import b64url, segments

BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
CHARACTERS = st.sampled_from(BASE64URL) | st.sampled_from("=.+/ \n\t\x00é%")
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=5,
)
HEADER_NAMES = st.sampled_from(["alg", "typ", "kid", "crit", "jku", "jwk", "x5c", "b64", "cty"])
CLAIM_NAMES = st.sampled_from(["iss", "aud", "sub", "exp", "nbf", "iat", "jti", "scope", "scp"])


@frozen(kw_only=True)
class Subject:
    """A valid token, its verifier, and what it verifies to."""

    kit: TokenKit
    token: str
    verifier: JwtVerifier
    principal: Principal


@pytest.fixture(scope="module")
def subject(tmp_path_factory: pytest.TempPathFactory) -> Subject:
    kit = TokenKit.create(Path(tmp_path_factory.mktemp("mutations")) / "keys")
    verifier = JwtVerifier.from_policy(kit.policy()).unwrap()
    token = kit.valid(header={"kid": kit.kid})
    return Subject(
        kit=kit, token=token, verifier=verifier, principal=verifier.verify(token, now()).unwrap()
    )


def now() -> float:
    return time.time()


def assert_refused_unless_the_same_token(subject: Subject, mutated: str) -> None:
    """The property: accepted means the same bytes under the same principal."""
    result = subject.verifier.verify(mutated, now())
    if not is_successful(result):
        return
    assert segments(mutated) == segments(subject.token), mutated
    assert result.unwrap() == subject.principal


def replace_part(token: str, index: int, part: str) -> str:
    parts = token.split(".")
    parts[index] = part
    return ".".join(parts)


@given(
    index=st.integers(0, 2),
    operation=st.sampled_from(["flip", "insert", "delete"]),
    position=st.integers(0, 10_000),
    character=CHARACTERS,
)
@settings(deadline=None)
def test_an_edited_segment_is_refused(
    subject: Subject, index: int, operation: str, position: int, character: str
) -> None:
    part = subject.token.split(".")[index]
    at = position % (len(part) + 1)
    if operation == "flip" and at < len(part):
        edited = part[:at] + character + part[at + 1 :]
    elif operation == "delete" and at < len(part):
        edited = part[:at] + part[at + 1 :]
    else:
        edited = part[:at] + character + part[at:]
    assert_refused_unless_the_same_token(subject, replace_part(subject.token, index, edited))


@given(
    index=st.integers(0, 1),
    data=st.data(),
    delete=st.booleans(),
    value=JSON_VALUES,
)
@settings(deadline=None)
def test_a_changed_header_or_payload_without_a_new_signature_is_refused(
    subject: Subject, index: int, data: st.DataObject, delete: bool, value: object
) -> None:
    fields = json.loads(segments(subject.token)[index])
    name = data.draw(HEADER_NAMES if index == 0 else CLAIM_NAMES)
    if delete:
        fields.pop(name, None)
    else:
        fields[name] = value
    encoded = b64url(json.dumps(fields, separators=(",", ":")).encode())
    assert_refused_unless_the_same_token(subject, replace_part(subject.token, index, encoded))


@given(bit=st.integers(0, 64 * 8 - 1))
@settings(deadline=None)
def test_a_signature_with_any_bit_flipped_is_refused(subject: Subject, bit: int) -> None:
    signature = bytearray(segments(subject.token)[2])
    signature[bit // 8] ^= 1 << (bit % 8)
    mutated = replace_part(subject.token, 2, b64url(bytes(signature)))
    assert not is_successful(subject.verifier.verify(mutated, now()))


@given(index=st.integers(0, 2), padding=st.sampled_from(["=", "=="]))
@settings(deadline=None)
def test_padding_is_the_only_accepted_spelling_change(
    subject: Subject, index: int, padding: str
) -> None:
    part = subject.token.split(".")[index]
    mutated = replace_part(subject.token, index, part + padding)
    # The signature covers the header and payload *text*, so padding them breaks it;
    # correct padding (to a multiple of 4) on the signature spells the same bytes,
    # and PyJWT accepts it.
    if index == 2 and len(part + padding) % 4 == 0:
        assert subject.verifier.verify(mutated, now()).unwrap() == subject.principal
    else:
        assert not is_successful(subject.verifier.verify(mutated, now()))


@given(changes=st.dictionaries(CLAIM_NAMES, JSON_VALUES, max_size=4))
@settings(deadline=None)
def test_signed_claims_of_any_shape_never_crash_and_pass_only_under_the_policy(
    subject: Subject, changes: dict[str, object]
) -> None:
    """Even with a genuine signature, odd claim values are refused with a reason,
    never an exception; whatever is accepted still meets the policy."""
    kit = subject.kit
    claims = {**kit.claims(), **changes}
    token = kit.valid(**changes)
    result = subject.verifier.verify(token, now())
    if not is_successful(result):
        assert result.failure().message
        return
    audience = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    assert (claims["iss"], kit.audience in audience) == (kit.issuer, True)
    assert result.unwrap().subject == claims["sub"]
    assert claims["exp"] + kit.policy().leeway_seconds > now()


def test_the_unchanged_token_and_a_re_signed_change_are_accepted(
    subject: Subject, tmp_path: Path
) -> None:
    """Guards the properties above against a verifier that refuses everything."""
    assert subject.verifier.verify(subject.token, now()).unwrap() == subject.principal
    kit = TokenKit.create(tmp_path / "keys")
    verifier = JwtVerifier.from_policy(kit.policy()).unwrap()
    assert verifier.verify(kit.valid(sub="bob"), now()).unwrap().subject == "bob"
