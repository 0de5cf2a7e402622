"""Tampering with a real audit log, each attack caught by ``orch audit verify``.

One log is made once through the real MCP surface (an audited in-memory server
on a real SQLite file; the key, database and checkpoint file are the ones
``orch serve`` uses). Each test copies it, attacks the copy with plain SQL or
file edits, and runs the ``orch audit verify`` command: exit 1 and
``BROKEN at seq N: <reason>``, or exit 0 and a summary for the untouched log.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest

from orch_core import AuditKind, ChainHead, Limits, canonical_json, record_hash, seal
from orch_shell._keys import create_key_pair
from tests.audit_kit import run_orch, verify
from tests.harness import World, in_memory, make_world, new_agent, test_settings

pytestmark = pytest.mark.timeout(120)

STATUS_CALLS = 120


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir whose log has ~250 records, checkpoints at 100 and 200 and at shutdown,
    and ``older.db``: a consistent copy of the database taken at about seq 120."""
    world = make_world(tmp_path_factory.mktemp("audit"))

    async def scenario() -> None:
        # Unlimited reads: the burst of status calls is the point, not a flood.
        settings = attrs.evolve(test_settings(world), limits=Limits(read_per_minute=0))
        async with in_memory(world, settings) as (client, _orchestrator):
            session, _agent = await new_agent(client, world)
            for number in range(STATUS_CALLS):
                await client.call_tool("get_session_status", {"session_id": session})
                if number == 55:
                    with sqlite3.connect(world.data / "orch.db") as live:
                        live.backup(sqlite3.connect(world.data / "older.db"))

    asyncio.run(scenario())
    return world.root


def attacked(original: Path, tmp_path: Path, attack: Callable[[sqlite3.Connection], None]) -> World:
    root = tmp_path / "copy"
    shutil.copytree(original, root)
    world = World(root=root, home=root / "home", project=root / "home/project", data=root / "data")
    with sqlite3.connect(world.data / "orch.db") as db:
        attack(db)
    return world


def record(db: sqlite3.Connection, seq: int) -> dict[str, object]:
    text = db.execute("SELECT record FROM audit_records WHERE seq = ?", (seq,)).fetchone()[0]
    loaded: dict[str, object] = json.loads(text)
    return loaded


def last_seq(db: sqlite3.Connection) -> int:
    return int(db.execute("SELECT max(seq) FROM audit_records").fetchone()[0])


def test_the_untouched_log_verifies(original: Path, tmp_path: Path) -> None:
    world = attacked(original, tmp_path, lambda db: None)
    code, output = verify(world)
    with sqlite3.connect(world.data / "orch.db") as db:
        last = last_seq(db)
        kinds = [
            k for (k,) in db.execute("SELECT json_extract(record, '$.kind') FROM audit_records")
        ]
    assert code == 0, output
    assert output.startswith(f"audit log OK: {last} records; sealed up to seq {last} by ")
    assert output.endswith("; 0 unsealed at the tail")
    assert kinds.count(AuditKind.DECISION.value) == STATUS_CALLS + 2
    assert kinds.count(AuditKind.OUTCOME.value) == STATUS_CALLS + 2
    assert kinds[-1] == AuditKind.SERVER_STOP.value


def test_editing_one_field_of_one_record(original: Path, tmp_path: Path) -> None:
    def edit(db: sqlite3.Connection) -> None:
        assert record(db, 42)["kind"] in (AuditKind.DECISION, AuditKind.OUTCOME)
        db.execute(
            "UPDATE audit_records SET record = replace(record, 'get_session_status', "
            "'delete_session') WHERE seq = 42"
        )

    world = attacked(original, tmp_path, edit)
    assert verify(world) == (
        1,
        "audit log BROKEN at seq 42: its hash does not match its content: it was edited",
    )


def test_deleting_a_record(original: Path, tmp_path: Path) -> None:
    world = attacked(
        original, tmp_path, lambda db: db.execute("DELETE FROM audit_records WHERE seq = 77")
    )
    assert verify(world) == (
        1,
        "audit log BROKEN at seq 77: record 77 is missing (the next stored one is 78)",
    )


def test_swapping_two_records(original: Path, tmp_path: Path) -> None:
    def swap(db: sqlite3.Connection) -> None:
        db.execute("UPDATE audit_records SET seq = -1 WHERE seq = 30")
        db.execute("UPDATE audit_records SET seq = 30 WHERE seq = 31")
        db.execute("UPDATE audit_records SET seq = 31 WHERE seq = -1")

    world = attacked(original, tmp_path, swap)
    assert verify(world) == (
        1,
        "audit log BROKEN at seq 30: the record stored at seq 30 says it is seq 31: "
        "records were moved or swapped",
    )


def test_a_forged_record_with_every_later_hash_recomputed(original: Path, tmp_path: Path) -> None:
    def forge(db: sqlite3.Connection) -> None:
        rows = db.execute("SELECT seq, record FROM audit_records WHERE seq >= 150 ORDER BY seq")
        later = [json.loads(text) for _, text in rows.fetchall()]
        previous = db.execute("SELECT hash FROM audit_records WHERE seq = 149").fetchone()[0]
        db.execute("DELETE FROM audit_records WHERE seq >= 150")
        forged = {**later[0], "body": {"tool": "delete_session", "forged": True}}
        for seq, kept in enumerate([forged, *later], start=150):
            text = canonical_json({**kept, "seq": seq, "prev": previous})
            previous = record_hash(text)
            db.execute("INSERT INTO audit_records VALUES (?, ?, ?)", (seq, text, previous))

    world = attacked(original, tmp_path, forge)
    assert verify(world) == (
        1,
        "audit log BROKEN at seq 200: it does not match the signed checkpoint in the "
        "database: records after seq 100 were rewritten",
    )


def test_truncating_the_tail_past_a_checkpoint(original: Path, tmp_path: Path) -> None:
    world = attacked(
        original, tmp_path, lambda db: db.execute("DELETE FROM audit_records WHERE seq > 180")
    )
    code, output = verify(world)
    assert code == 1
    assert output.startswith(
        "audit log BROKEN at seq 181: the log ends at seq 180, but the database has a "
        "signed checkpoint at seq 200: records were removed or the database was restored"
    )


def test_truncating_records_and_checkpoints_is_caught_by_the_checkpoint_file(
    original: Path, tmp_path: Path
) -> None:
    def truncate(db: sqlite3.Connection) -> None:
        db.execute("DELETE FROM audit_records WHERE seq > 180")
        db.execute("DELETE FROM audit_checkpoints WHERE seq > 180")

    world = attacked(original, tmp_path, truncate)
    code, output = verify(world)
    assert code == 1
    assert output.startswith("audit log BROKEN at seq 181: the log ends at seq 180, but ")
    assert "audit-checkpoints.jsonl line 2 has a signed checkpoint at seq 200" in output


def test_restoring_an_older_copy_of_the_database(original: Path, tmp_path: Path) -> None:
    world = attacked(original, tmp_path, lambda db: None)
    shutil.copyfile(world.data / "older.db", world.data / "orch.db")
    for suffix in ("-wal", "-shm"):
        (world.data / f"orch.db{suffix}").unlink(missing_ok=True)
    with sqlite3.connect(world.data / "orch.db") as db:
        old_last = last_seq(db)
    code, output = verify(world)
    assert code == 1
    assert output.startswith(
        f"audit log BROKEN at seq {old_last + 1}: the log ends at seq {old_last}, but "
    )
    assert "audit-checkpoints.jsonl line 2 has a signed checkpoint at seq 200" in output
    assert output.endswith("restored from an older copy")


def test_verifying_with_the_wrong_public_key(original: Path, tmp_path: Path) -> None:
    world = attacked(original, tmp_path, lambda db: None)
    other_private, other_public = tmp_path / "other.pem", tmp_path / "other.pub.pem"
    create_key_pair(other_private, other_public).unwrap()
    assert verify(world, "--public-key", str(other_public)) == (
        1,
        "audit log BROKEN at seq 100: the checkpoint in the database has a bad signature: "
        "it was altered, or it was not made with this audit public key",
    )


def test_a_record_re_serialized_differently(original: Path, tmp_path: Path) -> None:
    def reserialize(db: sqlite3.Connection) -> None:
        text = json.dumps(record(db, 64), indent=2, sort_keys=False)
        db.execute("UPDATE audit_records SET record = ? WHERE seq = 64", (text,))

    world = attacked(original, tmp_path, reserialize)
    assert verify(world) == (
        1,
        "audit log BROKEN at seq 64: the record is not in its canonical JSON form",
    )


def test_a_record_appended_by_hand_is_intact_but_unsealed(original: Path, tmp_path: Path) -> None:
    """Appending is not tampering the verifier can see; it is reported as unsealed."""

    def append(db: sqlite3.Connection) -> None:
        last = last_seq(db)
        head_hash = db.execute("SELECT hash FROM audit_records WHERE seq = ?", (last,)).fetchone()
        added = seal(ChainHead(seq=last, hash=head_hash[0]), AuditKind.SERVER_START, {}, at_us=1)
        db.execute(
            "INSERT INTO audit_records VALUES (?, ?, ?)", (added.seq, added.text, added.hash)
        )

    world = attacked(original, tmp_path, append)
    code, output = verify(world)
    assert code == 0, output
    assert output.endswith("; 1 unsealed at the tail")


def test_show_and_export_print_the_records(original: Path, tmp_path: Path) -> None:
    world = attacked(original, tmp_path, lambda db: None)
    with sqlite3.connect(world.data / "orch.db") as db:
        last = last_seq(db)
    shown = run_orch(world, "audit", "show", "--tail", "3").stdout.splitlines()
    assert [line.split()[0] for line in shown] == [str(last - 2), str(last - 1), str(last)]
    assert "server.stop" in shown[-1]
    exported = [
        json.loads(line)
        for line in run_orch(world, "audit", "export", "--since", "10").stdout.splitlines()
    ]
    assert [e["record"]["seq"] for e in exported] == list(range(11, last + 1))
    assert all(e["hash"] == record_hash(canonical_json(e["record"])) for e in exported)
