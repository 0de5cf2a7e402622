"""The audit chain, checked by the pure verifier: every tampering is found, with its seq.

Signatures here are HMAC-SHA256 (pure, fast): the verifier only asks
``signature_ok``; the shell's Ed25519 check is exercised in the shell and e2e
tests. Each attack states the seq and the reason the verifier must give.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from orch_core import (
    GENESIS,
    AuditKind,
    ChainBreak,
    ChainSummary,
    Checkpoint,
    SealedRecord,
    StoredRecord,
    canonical_json,
    record_hash,
    seal,
    verify_log,
)
from tests.strategies import audit_bodies

KEY = b"k" * 32
OTHER_KEY = b"x" * 32


def _hmac(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def signature_ok(message: bytes, signature: bytes, key: bytes = KEY) -> bool:
    return hmac.compare_digest(_hmac(key, message), signature)


def sign(record: SealedRecord, at_us: int = 5, key: bytes = KEY) -> str:
    unsigned = Checkpoint(seq=record.seq, hash=record.hash, at_us=at_us, key_id="k", signature="")
    raw = _hmac(key, unsigned.signed_bytes())
    signature = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    return attrs.evolve(unsigned, signature=signature).text()


def chain(length: int, every: int = 10) -> tuple[list[StoredRecord], list[tuple[str, str]]]:
    """``length`` records, with a checkpoint in the database and the file every ``every``."""
    head, rows, checkpoints = GENESIS, [], []
    for number in range(1, length + 1):
        record = seal(head, AuditKind.DECISION, {"n": number, "tool": "t"}, at_us=number)
        rows.append(StoredRecord(seq=record.seq, text=record.text, hash=record.hash))
        if number % every == 0:
            checkpoints += [("the database", sign(record)), ("the file", sign(record))]
        head = record.head
    return rows, checkpoints


def verify(
    rows: list[StoredRecord], checkpoints: list[tuple[str, str]], key: bytes = KEY
) -> ChainSummary | ChainBreak:
    return verify_log(rows, checkpoints, lambda m, s: signature_ok(m, s, key))


def rehash_from(rows: list[StoredRecord], start: int) -> list[StoredRecord]:
    """Recompute seq, prev and hash of every record from index ``start`` (a forger's work)."""
    out = rows[:start]
    for index in range(start, len(rows)):
        parsed = json.loads(rows[index].text)
        parsed["seq"] = index + 1
        parsed["prev"] = out[-1].hash if out else GENESIS.hash
        text = canonical_json(parsed)
        out.append(StoredRecord(seq=index + 1, text=text, hash=record_hash(text)))
    return out


def test_an_intact_chain_verifies_and_reports_its_unsealed_tail() -> None:
    rows, checkpoints = chain(25)
    assert verify(rows, checkpoints) == ChainSummary(
        records=25, last_seq=25, last_sealed_seq=20, checkpoints=2, unsealed=5
    )


def test_an_empty_log_verifies() -> None:
    assert verify([], []) == ChainSummary(
        records=0, last_seq=0, last_sealed_seq=0, checkpoints=0, unsealed=0
    )


def test_editing_one_field_of_one_record_is_found_at_that_seq() -> None:
    rows, checkpoints = chain(25)
    text = rows[6].text.replace('"n":7', '"n":8')
    rows[6] = attrs.evolve(rows[6], text=text)
    assert verify(rows, checkpoints) == ChainBreak(
        seq=7, reason="its hash does not match its content: it was edited"
    )


def test_editing_a_record_and_its_hash_breaks_the_next_link() -> None:
    rows, checkpoints = chain(25)
    text = rows[6].text.replace('"n":7', '"n":8')
    rows[6] = attrs.evolve(rows[6], text=text, hash=record_hash(text))
    found = verify(rows, checkpoints)
    assert isinstance(found, ChainBreak)
    assert found.seq == 8
    assert "does not link to the record before it" in found.reason


def test_deleting_a_record_is_found_at_its_seq() -> None:
    rows, checkpoints = chain(25)
    del rows[11]
    assert verify(rows, checkpoints) == ChainBreak(
        seq=12, reason="record 12 is missing (the next stored one is 13)"
    )


def test_swapping_two_records_is_found_at_the_first() -> None:
    rows, checkpoints = chain(25)
    rows[3], rows[5] = (
        attrs.evolve(rows[5], seq=4),
        attrs.evolve(rows[3], seq=6),
    )
    assert verify(rows, checkpoints) == ChainBreak(
        seq=4,
        reason="the record stored at seq 4 says it is seq 6: records were moved or swapped",
    )


def test_a_forged_record_with_every_later_hash_recomputed_fails_the_next_checkpoint() -> None:
    rows, checkpoints = chain(35)
    forged = seal(GENESIS, AuditKind.DECISION, {"forged": True}, at_us=1)
    rows.insert(13, StoredRecord(seq=14, text=forged.text, hash=forged.hash))
    rows = rehash_from(rows, 13)
    found = verify(rows, checkpoints)
    assert found == ChainBreak(
        seq=20,
        reason="it does not match the signed checkpoint in the database: records after "
        "seq 10 were rewritten",
    )


def test_truncating_the_tail_past_a_checkpoint_is_found() -> None:
    rows, checkpoints = chain(35)
    found = verify(rows[:27], checkpoints)
    assert isinstance(found, ChainBreak)
    assert found.seq == 28
    assert "the log ends at seq 27, but the database has a signed checkpoint at seq 30" in (
        found.reason
    )


def test_an_older_copy_is_caught_by_the_checkpoint_file() -> None:
    rows, checkpoints = chain(35)
    old_rows = rows[:12]  # a copy taken at seq 12, with its own checkpoint at 10
    old_database = [c for c in checkpoints if c[0] == "the database"][:1]
    newer_file = [c for c in checkpoints if c[0] == "the file"]
    found = verify(old_rows, old_database + newer_file)
    assert isinstance(found, ChainBreak)
    assert found.seq == 13
    assert "the file has a signed checkpoint at seq 20" in found.reason
    assert "restored from an older copy" in found.reason


def test_the_wrong_public_key_fails_at_the_first_checkpoint() -> None:
    rows, checkpoints = chain(25)
    found = verify(rows, checkpoints, key=OTHER_KEY)
    assert isinstance(found, ChainBreak)
    assert found.seq == 10
    assert "has a bad signature" in found.reason


def test_a_record_serialized_differently_is_found() -> None:
    rows, checkpoints = chain(25)
    spaced = json.dumps(json.loads(rows[4].text), indent=1)
    rows[4] = attrs.evolve(rows[4], text=spaced, hash=hashlib.sha256(spaced.encode()).hexdigest())
    assert verify(rows, checkpoints) == ChainBreak(
        seq=5, reason="the record is not in its canonical JSON form"
    )


def test_the_lowest_bad_seq_is_reported() -> None:
    rows, checkpoints = chain(25)
    rows[20] = attrs.evolve(rows[20], text=rows[20].text.replace('"n":21', '"n":0'))
    rows[2] = attrs.evolve(rows[2], text=rows[2].text.replace('"n":3', '"n":0'))
    found = verify(rows, checkpoints)
    assert isinstance(found, ChainBreak)
    assert found.seq == 3


@given(body=audit_bodies(), at_us=st.integers(0, 2**62))
def test_a_record_has_exactly_one_text(body: dict[str, object], at_us: int) -> None:
    record = seal(GENESIS, AuditKind.OUTCOME, body, at_us=at_us)
    assert record.text.isascii()
    assert canonical_json(json.loads(record.text)) == record.text
    assert record.hash == record_hash(record.text)


def test_a_float_is_refused_by_contract() -> None:
    with pytest.raises(Exception, match="no floats"):
        canonical_json({"a": 1.5})


# -- any single byte changed in any stored record or checkpoint is found ---------

ROWS, CHECKPOINTS = chain(30)
FIELDS = [("text", i) for i in range(len(ROWS))] + [("hash", i) for i in range(len(ROWS))]


@given(data=st.data())
def test_changing_any_byte_of_any_record_is_detected(data: st.DataObject) -> None:
    field, index = data.draw(st.sampled_from(FIELDS))
    original: str = getattr(ROWS[index], field)
    position = data.draw(st.integers(0, len(original) - 1))
    byte = data.draw(st.integers(0, 255).filter(lambda b: b != ord(original[position])))
    changed = original[:position] + chr(byte) + original[position + 1 :]
    rows = list(ROWS)
    rows[index] = attrs.evolve(rows[index], **{field: changed})
    found = verify(rows, CHECKPOINTS)
    assert isinstance(found, ChainBreak)
    assert found.seq <= index + 2  # the record itself, or the link right after it


@given(data=st.data())
def test_changing_any_byte_of_any_checkpoint_is_detected(data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(CHECKPOINTS) - 1))
    where, original = CHECKPOINTS[index]
    position = data.draw(st.integers(0, len(original) - 1))
    byte = data.draw(st.integers(0, 255).filter(lambda b: b != ord(original[position])))
    checkpoints = list(CHECKPOINTS)
    checkpoints[index] = (where, original[:position] + chr(byte) + original[position + 1 :])
    assert isinstance(verify(ROWS, checkpoints), ChainBreak)
