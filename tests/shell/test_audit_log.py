"""The audit log's writer on a real SQLite file, checked with the real Ed25519 key.

The byte-flip property of ``tests/core/test_audit.py`` again, here on the stored
form: any single byte changed in any stored record (its text or its hash), any
checkpoint in the database, or any line of the checkpoint file, is found.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orch_core import AuditKind, AuditSettings, ChainBreak, ChainSummary, StoredRecord, verify_log
from orch_shell._audit_keys import SignatureCheck, audit_key_files, ensure_audit_signer
from orch_shell._audit_log import AuditLog, open_audit_log
from orch_shell._paths import OrchPaths, resolve_paths
from orch_shell._store import Store

RECORDS = 23


def written_log(home: Path) -> tuple[OrchPaths, Path]:
    """A log of ``RECORDS`` records sealed every 5 (and at close); its paths and database."""
    paths = resolve_paths({"ORCH_HOME": str(home)})
    home.mkdir(parents=True, exist_ok=True)
    with Store.open(paths.database) as store:
        audit = open_audit_log(store, AuditSettings(checkpoint_every_records=5), paths, time.time)
        for number in range(RECORDS):
            audit.append(AuditKind.DECISION, {"n": number, "tool": "list_sessions"}).unwrap()
        audit.checkpoint()
    return paths, paths.database


def read_all(database: Path) -> tuple[list[StoredRecord], list[tuple[int, str]]]:
    with Store.open_read_only(database) as store:
        return store.audit_records_after(0, 10_000), store.audit_checkpoints()


def verify(paths: OrchPaths, database: Path) -> ChainSummary | ChainBreak:
    records, stored = read_all(database)
    lines = (paths.home / "audit-checkpoints.jsonl").read_text().split("\n")[:-1]
    checkpoints = [("db", text) for _, text in stored] + [("file", line) for line in lines]
    check = SignatureCheck.from_file(audit_key_files(paths)[1]).unwrap()
    return verify_log(records, checkpoints, check)


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> tuple[OrchPaths, Path]:
    return written_log(tmp_path_factory.mktemp("audit") / "home")


def test_a_written_log_verifies_with_the_real_key(log: tuple[OrchPaths, Path]) -> None:
    assert verify(*log) == ChainSummary(
        records=RECORDS, last_seq=RECORDS, last_sealed_seq=RECORDS, checkpoints=5, unsealed=0
    )


def flip(text: str, position: int, byte: int) -> str:
    return text[:position] + chr(byte) + text[position + 1 :]


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=40)
@given(data=st.data())
def test_any_byte_changed_anywhere_is_found(
    log: tuple[OrchPaths, Path], tmp_path: Path, data: st.DataObject
) -> None:
    paths, database = log
    records, stored = read_all(database)
    lines = (paths.home / "audit-checkpoints.jsonl").read_text().split("\n")[:-1]
    place = data.draw(st.sampled_from(["record", "hash", "checkpoint", "file"]))
    if place in ("record", "hash"):
        row = data.draw(st.sampled_from(records))
        original = row.text if place == "record" else row.hash
    elif place == "checkpoint":
        seq, original = data.draw(st.sampled_from(stored))
    else:
        original = data.draw(st.sampled_from(lines))
    position = data.draw(st.integers(0, len(original) - 1))
    byte = data.draw(st.integers(1, 255).filter(lambda b: b != ord(original[position])))
    changed = flip(original, position, byte)
    if place == "record":
        records = [
            StoredRecord(seq=r.seq, text=changed, hash=r.hash) if r == row else r for r in records
        ]
    elif place == "hash":
        records = [
            StoredRecord(seq=r.seq, text=r.text, hash=changed) if r == row else r for r in records
        ]
    elif place == "checkpoint":
        stored = [(s, changed if s == seq else t) for s, t in stored]
    else:
        lines = [changed if line == original else line for line in lines]
    checkpoints = [("db", t) for _, t in stored] + [("file", line) for line in lines]
    check = SignatureCheck.from_file(audit_key_files(paths)[1]).unwrap()
    assert isinstance(verify_log(records, checkpoints, check), ChainBreak), (place, changed)


def test_a_failed_write_leaves_no_gap_and_the_next_record_takes_its_seq(tmp_path: Path) -> None:
    paths = resolve_paths({"ORCH_HOME": str(tmp_path / "home")})
    paths.home.mkdir()
    store = Store.open(paths.database)
    audit = open_audit_log(store, AuditSettings(), paths, time.time)
    audit.append(AuditKind.SERVER_START, {}).unwrap()
    with sqlite3.connect(paths.database) as other:  # a second writer holds the lock
        other.execute("BEGIN IMMEDIATE")
        store._db.execute("PRAGMA busy_timeout = 0")  # type: ignore[union-attr]
        refused = audit.append(AuditKind.DECISION, {"n": 1})
        other.execute("ROLLBACK")
    assert refused.failure().code.value == "UNAVAILABLE"
    assert audit.append(AuditKind.DECISION, {"n": 2}).unwrap().seq == 2
    audit.close({"pid": 1})
    store.close()
    assert isinstance(verify(paths, paths.database), ChainSummary)


def test_a_checkpoint_the_file_cannot_take_is_still_in_the_database(tmp_path: Path) -> None:
    paths = resolve_paths({"ORCH_HOME": str(tmp_path / "home")})
    paths.home.mkdir()
    with Store.open(paths.database) as store:
        audit = AuditLog(
            store=store,
            signer=ensure_audit_signer(paths).unwrap()[0],
            settings=AuditSettings(),
            checkpoint_file=tmp_path / "missing-dir" / "checkpoints.jsonl",
            clock=time.time,
        )
        audit.append(AuditKind.SERVER_START, {}).unwrap()
        assert audit.checkpoint() is False  # the database has it; the file could not
        assert store.audit_checkpoints()[0][0] == 1
