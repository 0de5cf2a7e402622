"""Checking an audit log (pure): the first bad seq and why, or a summary.

The checker walks the stored records in ``seq`` order once (constant memory
apart from the checkpoints), and for each record checks, in this order:

1. it is the next seq (none missing);
2. its text is canonical JSON of a version-1 record (not re-serialized);
3. it says it is this seq (not moved or swapped);
4. its stored hash is the hash of its text (not edited);
5. it names the previous record's hash (nothing removed, inserted or reordered);
6. every checkpoint signed at this seq names this hash (nothing rewritten
   before it, even with every later hash recomputed).

Checkpoints come from the database and from the checkpoint file kept outside
it; each must be canonical and carry a valid Ed25519 signature (checked by the
caller's ``signature_ok``). A checkpoint beyond the last record means records
were removed or the database was restored from an older copy. When several
things are wrong the one with the lowest seq is reported.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from attrs import frozen

from ._audit import VERSION, ZERO_HASH, Checkpoint, dumps_canonical, record_hash

SignatureOk = Callable[[bytes, bytes], bool]
"""``signature_ok(message, signature)``: does the audit public key verify it?"""

RECORD_KEYS = frozenset({"v", "seq", "at", "kind", "prev", "body"})
CHECKPOINT_KEYS = frozenset({"v", "seq", "hash", "at", "key_id", "signature"})


@frozen(kw_only=True)
class StoredRecord:
    """One row of the audit table, exactly as stored."""

    seq: int
    text: str
    hash: str


@frozen(kw_only=True)
class ChainBreak:
    """The first problem found: at ``seq`` (0 when it has none), and why."""

    seq: int
    reason: str

    def __str__(self) -> str:
        return f"seq {self.seq}: {self.reason}"


@frozen(kw_only=True)
class ChainSummary:
    """A log that verified: how long it is and how much of it is sealed."""

    records: int
    last_seq: int
    last_sealed_seq: int
    checkpoints: int
    unsealed: int
    """Records after the last checkpoint: intact, but not yet signed."""


def _no_float(text: str) -> Any:
    raise ValueError(f"audit JSON holds no floats, found {text}")


def _json(text: str) -> dict[str, Any] | None:
    """``text`` parsed, if it is a canonical JSON object; else None."""
    try:
        # Floats (and NaN, Infinity) are refused while parsing: one pass, no walk.
        parsed = json.loads(text, parse_float=_no_float, parse_constant=_no_float)
    except (ValueError, TypeError, RecursionError):
        return None
    if not isinstance(parsed, dict):
        return None
    return parsed if dumps_canonical(parsed) == text else None


def _signature(text: object) -> bytes | None:
    """The signature bytes, if ``text`` is their one unpadded URL-safe base64 form."""
    if not isinstance(text, str) or not text.isascii():
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    return raw if base64.urlsafe_b64encode(raw).rstrip(b"=").decode() == text else None


def parse_checkpoint(text: str, where: str, signature_ok: SignatureOk) -> Checkpoint | ChainBreak:
    """A stored checkpoint, checked: canonical and signed by the audit key."""
    parsed = _json(text)
    if parsed is None or set(parsed) != CHECKPOINT_KEYS or parsed["v"] != VERSION:
        return ChainBreak(seq=0, reason=f"{where} is not a valid checkpoint")
    try:
        checkpoint = Checkpoint(
            seq=parsed["seq"],
            hash=parsed["hash"],
            at_us=parsed["at"],
            key_id=parsed["key_id"],
            signature=parsed["signature"],
        )
    except (TypeError, ValueError):
        return ChainBreak(seq=0, reason=f"{where} is not a valid checkpoint")
    signature = _signature(checkpoint.signature)
    if signature is None or not signature_ok(checkpoint.signed_bytes(), signature):
        return ChainBreak(
            seq=checkpoint.seq,
            reason=f"the checkpoint in {where} has a bad signature: it was altered, or it "
            "was not made with this audit public key",
        )
    return checkpoint


def _record_problem(row: StoredRecord, expected: int, prev: str) -> ChainBreak | None:
    if row.seq != expected:
        return ChainBreak(
            seq=expected, reason=f"record {expected} is missing (the next stored one is {row.seq})"
        )
    parsed = _json(row.text)
    if parsed is None or set(parsed) != RECORD_KEYS or parsed["v"] != VERSION:
        return ChainBreak(seq=row.seq, reason="the record is not in its canonical JSON form")
    if parsed["seq"] != row.seq:
        return ChainBreak(
            seq=row.seq,
            reason=f"the record stored at seq {row.seq} says it is seq {parsed['seq']}: "
            "records were moved or swapped",
        )
    if record_hash(row.text) != row.hash:
        return ChainBreak(seq=row.seq, reason="its hash does not match its content: it was edited")
    if parsed["prev"] != prev:
        return ChainBreak(
            seq=row.seq,
            reason="it does not link to the record before it: records were removed, "
            "inserted or reordered",
        )
    return None


def verify_log(
    records: Iterable[StoredRecord],
    checkpoints: Sequence[tuple[str, str]],
    signature_ok: SignatureOk,
) -> ChainSummary | ChainBreak:
    """Verify ``records`` (in seq order) against ``checkpoints`` (``(where, text)``)."""
    breaks: list[ChainBreak] = []
    sealed: dict[int, list[tuple[str, Checkpoint]]] = {}
    for where, text in checkpoints:
        parsed = parse_checkpoint(text, where, signature_ok)
        if isinstance(parsed, ChainBreak):
            breaks.append(parsed)
        else:
            sealed.setdefault(parsed.seq, []).append((where, parsed))
    expected, prev, last_good = 1, ZERO_HASH, 0
    for row in records:
        problem = _record_problem(row, expected, prev)
        for where, checkpoint in sealed.get(row.seq, ()) if problem is None else ():
            if checkpoint.hash != row.hash:
                problem = ChainBreak(
                    seq=row.seq,
                    reason=f"it does not match the signed checkpoint in {where}: records after "
                    f"seq {last_good} were rewritten",
                )
                break
        if problem is not None:
            return min([*breaks, problem], key=lambda b: b.seq)
        if row.seq in sealed:
            last_good = row.seq
        expected, prev = expected + 1, row.hash
    last_seq = expected - 1
    for seq in sorted(s for s in sealed if s > last_seq):
        where = sealed[seq][0][0]
        breaks.append(
            ChainBreak(
                seq=last_seq + 1,
                reason=f"the log ends at seq {last_seq}, but {where} has a signed checkpoint "
                f"at seq {seq}: records were removed or the database was restored from an "
                "older copy",
            )
        )
        break
    if breaks:
        return min(breaks, key=lambda b: b.seq)
    last_sealed = max((s for s in sealed if s <= last_seq), default=0)
    return ChainSummary(
        records=last_seq,
        last_seq=last_seq,
        last_sealed_seq=last_sealed,
        checkpoints=len(sealed),
        unsealed=last_seq - last_sealed,
    )
