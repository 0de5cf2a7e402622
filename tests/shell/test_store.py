"""The SQLite store: what it loads is exactly what the recorded events produced.

Every test uses a real database file in a temporary directory. Event sequences
come from ``orch_core.decide``, so they are the ones the server records; the
expected state is the same events folded through ``orch_core.evolve``. Random
command sequences are in ``test_store_machine.py``, a killed writer in
``test_store_crash.py``.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import time
from pathlib import Path

import attrs
import pytest

from orch_core import (
    GENESIS,
    AgentId,
    AuditKind,
    ClearConversation,
    Command,
    CreateAgent,
    CreateSession,
    DeleteAgent,
    DeleteSession,
    EndTurn,
    Event,
    Principal,
    ProcessInfo,
    RecordProcess,
    SendMessage,
    SessionCreated,
    SessionId,
    StartNewConversation,
    State,
    TurnEnded,
    TurnId,
    TurnOutcome,
    TurnStatus,
    Usage,
    seal,
)
from orch_shell._store import Store, StoreError
from orch_shell._store_schema import LATEST
from tests.core.scenario import IdMint, directory
from tests.shell.store_workload import PRINCIPAL, decide_and_record, reloaded


class Recorder:
    """Runs commands through decide, recording each decision in the store and in memory."""

    def __init__(self, store: Store, root: str) -> None:
        self.store = store
        self.root = root
        self.state = State()
        self.ids = IdMint()

    def run(self, command: Command) -> tuple[Event, ...]:
        self.state, events = decide_and_record(self.store, self.state, command)
        assert events is not None, f"{command!r} was refused"
        return events

    def session(self, name: str, principal: Principal = PRINCIPAL) -> SessionId:
        session_id = self.ids.session()
        self.run(
            CreateSession(
                principal=principal,
                name=name,
                root=directory(self.root),
                description="d",
                new_id=session_id,
                now=time.time(),
            )
        )
        return session_id

    def agent(self, session_id: str, name: str) -> AgentId:
        agent_id = self.ids.agent()
        self.run(
            CreateAgent(
                principal=PRINCIPAL,
                session_id=session_id,
                name=name,
                role="You test.",
                model="sonnet",
                permission_mode="plan",
                new_id=agent_id,
                new_conversation_id=self.ids.conversation(),
                now=time.time(),
            )
        )
        return agent_id

    def send(self, agent_id: str, message: str = "hello") -> TurnId:
        turn_id = self.ids.turn()
        self.run(
            SendMessage(
                principal=PRINCIPAL,
                agent_id=agent_id,
                message=message,
                new_turn_id=turn_id,
                now=time.time(),
            )
        )
        return turn_id

    def end(self, turn_id: TurnId, status: TurnStatus, claude_id: str | None = None) -> None:
        self.run(
            EndTurn(
                turn_id=turn_id,
                now=time.time(),
                outcome=TurnOutcome(
                    status=status,
                    reply="done \x00 ✓" if status is TurnStatus.COMPLETED else None,
                    error=None if status is TurnStatus.COMPLETED else "boom",
                    cost_usd=0.1,
                    duration_ms=1234,
                    num_turns=2,
                    usage=Usage(input_tokens=10, output_tokens=20, cache_read_input_tokens=3),
                    permission_denials=("Bash", 'Write "x"'),
                    claude_session_id=claude_id,
                ),
            )
        )


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "orch.db"


def test_every_event_round_trips_through_the_file(db_path: Path, tmp_path: Path) -> None:
    with Store.open(db_path) as store:
        rec = Recorder(store, str(tmp_path))

        def check() -> None:
            assert store.load() == rec.state
            assert reloaded(db_path) == rec.state

        ses = rec.session("project")
        a, b, c = (rec.agent(ses, n) for n in ("tester", "reviewer", "coder"))
        first = rec.send(a)
        rec.run(RecordProcess(turn_id=first, process=ProcessInfo(pid=42, pgid=42, start_time=1.5)))
        check()
        rec.end(first, TurnStatus.COMPLETED, claude_id="claude-1")
        second = rec.send(a, "again")
        rec.end(second, TurnStatus.FAILED, claude_id="ignored-when-failed")
        check()
        assert rec.state.conversations[rec.state.agents[a].conversation_id].claude_session_id == (
            "claude-1"
        )
        # Clearing discards the transcript and the pointer to its last turn.
        rec.run(
            ClearConversation(
                principal=PRINCIPAL,
                agent_id=a,
                new_conversation_id=rec.ids.conversation(),
                now=2.0,
            )
        )
        assert rec.state.agents[a].last_turn_id is None
        check()
        # Archive twice, the second time with a first turn in the new conversation.
        for initial in (None, "start over"):
            rec.run(
                StartNewConversation(
                    principal=PRINCIPAL,
                    agent_id=b,
                    initial_message=initial,
                    new_conversation_id=rec.ids.conversation(),
                    new_turn_id=rec.ids.turn(),
                    now=3.0,
                )
            )
        assert len(rec.state.agents[b].archived_conversation_ids) == 2
        check()
        # Deleting the middle agent, then adding one, keeps the session's agent order.
        rec.run(DeleteAgent(principal=PRINCIPAL, agent_id=b))
        d = rec.agent(ses, "writer")
        assert rec.state.sessions[ses].agent_ids == (a, c, d)
        rec.send(d)
        check()
        other = rec.session("other")
        rec.agent(other, "tester")
        rec.run(DeleteSession(principal=PRINCIPAL, session_id=ses, force=True))
        check()
        rows = store_counts(db_path)
    assert rows == {"sessions": 1, "agents": 1, "conversations": 1, "turns": 0}


def store_counts(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        return {
            table: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608
            for table in ("sessions", "agents", "conversations", "turns")
        }


# -- schema, file and connection settings -------------------------------------


def test_an_empty_file_is_migrated_to_the_latest_version(db_path: Path) -> None:
    db_path.touch()
    with Store.open(db_path) as store:
        assert store.load() == State()
    with sqlite3.connect(db_path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 2
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_newer_schema_is_refused_and_left_alone(db_path: Path) -> None:
    with sqlite3.connect(db_path) as db:
        db.execute("PRAGMA user_version = 999")
    with pytest.raises(StoreError) as raised:
        Store.open(db_path)
    assert str(raised.value) == (
        "database schema version 999 is newer than this orch (2); upgrade orch"
    )
    with sqlite3.connect(db_path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 999
        assert db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0


def test_reopening_keeps_data_and_version(db_path: Path, tmp_path: Path) -> None:
    with Store.open(db_path) as store:
        Recorder(store, str(tmp_path)).session("kept")
    with Store.open(db_path) as store:
        assert [s.name for s in store.load().sessions.values()] == ["kept"]


def test_a_version_1_database_gains_the_audit_tables_and_keeps_its_data(
    db_path: Path, tmp_path: Path
) -> None:
    with Store.open(db_path) as store:
        Recorder(store, str(tmp_path)).session("kept")
    with sqlite3.connect(db_path) as db:  # back to what an orch before the audit log wrote
        db.execute("DROP TABLE audit_records")
        db.execute("DROP TABLE audit_checkpoints")
        db.execute("PRAGMA user_version = 1")
    with Store.open(db_path) as store:
        assert [s.name for s in store.load().sessions.values()] == ["kept"]
        assert store.audit_head() == GENESIS
        assert store.audit_checkpoints() == []
    with sqlite3.connect(db_path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 2


def test_an_unflushed_commit_is_kept_and_later_commits_are_flushed_again(
    db_path: Path, tmp_path: Path
) -> None:
    record = seal(GENESIS, AuditKind.TOOLS_LIST, {}, at_us=1)
    with Store.open(db_path) as store:
        store.apply((), audit=record, flush=False)
        synchronous = store._db.execute("PRAGMA synchronous").fetchone()[0]  # type: ignore[union-attr]
        assert synchronous == 2  # FULL again for the next commit
        assert store.audit_head() == record.head


def test_the_files_are_private_to_the_user(db_path: Path, tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        with Store.open(db_path) as store:
            Recorder(store, str(tmp_path)).session("private")
            files = [p for p in tmp_path.iterdir() if p.name.startswith("orch.db")]
            assert {p.name for p in files} >= {"orch.db", "orch.db-wal"}
            for path in files:
                assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    finally:
        os.umask(old)


def test_wal_full_sync_and_foreign_keys_are_on(db_path: Path) -> None:
    with Store.open(db_path) as store:
        db = store._db  # the connection's own settings: only it can report them
        assert db is not None
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert db.execute("PRAGMA busy_timeout").fetchone()[0] > 0


def test_a_missing_directory_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot open the database"):
        Store.open(tmp_path / "no" / "orch.db")


def test_a_file_that_is_not_a_database_is_a_store_error(db_path: Path) -> None:
    db_path.write_bytes(b"this is not sqlite\n" * 100)
    with pytest.raises(StoreError, match="cannot use the database"):
        Store.open(db_path)


def test_a_row_no_domain_value_accepts_is_a_store_error(db_path: Path, tmp_path: Path) -> None:
    with Store.open(db_path) as store:
        rec = Recorder(store, str(tmp_path))
        rec.send(rec.agent(rec.session("s"), "coder"))
    with sqlite3.connect(db_path) as db:
        db.execute("UPDATE turns SET permission_denials = 'not json'")
    with Store.open(db_path) as store, pytest.raises(StoreError, match="cannot read"):
        store.load()


def test_a_closed_store_refuses_work(db_path: Path) -> None:
    store = Store.open(db_path)
    store.close()
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.load()


def test_the_write_probe_fails_on_a_file_that_cannot_take_a_commit(
    db_path: Path, tmp_path: Path
) -> None:
    """A probe rolled back before its commit never touches the file, and passed on
    an immutable (or full) one that every real commit fails on."""
    with Store.open(db_path) as store:
        Recorder(store, str(tmp_path)).session("s")
        before = store.load()
        store.probe_write()
        files = [db_path, db_path.with_name(f"{db_path.name}-wal")]
        subprocess.run(["chattr", "+i", *map(str, files)], check=True)  # root, as in CI
        try:
            with pytest.raises(StoreError, match="cannot be written: disk I/O error"):
                store.probe_write()
        finally:
            subprocess.run(["chattr", "-i", *map(str, files)], check=True)
        store.probe_write()
        assert store.load() == before
    with sqlite3.connect(db_path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == LATEST


# -- atomicity ----------------------------------------------------------------


def test_a_failing_batch_changes_nothing(db_path: Path, tmp_path: Path) -> None:
    with Store.open(db_path) as store:
        rec = Recorder(store, str(tmp_path))
        rec.agent(rec.session("taken"), "coder")
        before = store.load()
        session = next(iter(before.sessions.values()))
        fresh = attrs.evolve(session, id=SessionId("ses_fffffffffffffff1"), name="fresh")
        duplicate = attrs.evolve(session, id=SessionId("ses_fffffffffffffff2"))
        with pytest.raises(StoreError) as raised:
            store.apply([SessionCreated(session=fresh), SessionCreated(session=duplicate)])
        assert isinstance(raised.value.__cause__, sqlite3.IntegrityError)
        assert store.load() == before
        # An event about a row that is not there is refused the same way.
        unknown = TurnEnded(
            turn_id=TurnId("trn_ffffffffffffffff"),
            finished_at=1.0,
            outcome=TurnOutcome(status=TurnStatus.FAILED),
        )
        with pytest.raises(StoreError):
            store.apply([SessionCreated(session=fresh), unknown])
        assert store.load() == before
        # The store is still usable after a rollback.
        store.apply([SessionCreated(session=fresh)])
        assert set(store.load().sessions) == {session.id, fresh.id}
    assert reloaded(db_path).sessions.keys() == {session.id, fresh.id}
