"""The SQLite store: what it loads is exactly what the recorded events produced.

Every test uses a real database file in a temporary directory. Event sequences
come from ``orch_core.decide``, so they are the ones the server records; the
expected state is the same events folded through ``orch_core.evolve``.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import attrs
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from returns.result import Success

from orch_core import (
    AGENT_PREFIX,
    CONVERSATION_PREFIX,
    SESSION_PREFIX,
    TURN_PREFIX,
    AgentId,
    ClearConversation,
    Command,
    ConversationId,
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
    TurnStatus,
    Usage,
    decide,
    replay,
)
from orch_shell._store import Store, StoreError
from tests.shell.store_workload import POLICY, PRINCIPAL, batches, root_facts
from tests.strategies import agent_names, final_statuses, fitting_text, messages, session_names

WORKLOAD = Path(__file__).with_name("store_workload.py")


class Recorder:
    """Runs commands through decide, recording each decision in the store and in memory."""

    def __init__(self, store: Store, root: str) -> None:
        self.store = store
        self.root = root
        self.state = State()
        self.count = 0

    def new_id(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count:016x}"

    def run(self, command: Command) -> tuple[Event, ...]:
        result = decide(self.state, command, POLICY)
        assert isinstance(result, Success), result
        events = result.unwrap().events
        self.store.apply(events)
        self.state = replay(events, self.state)
        return events

    def session(self, name: str, principal: Principal = PRINCIPAL) -> SessionId:
        self.run(
            CreateSession(
                principal=principal,
                name=name,
                root=root_facts(self.root),
                description="d",
                new_id=SessionId(self.new_id(SESSION_PREFIX)),
                now=time.time(),
            )
        )
        return SessionId(f"{SESSION_PREFIX}{self.count:016x}")

    def agent(self, session_id: str, name: str) -> AgentId:
        agent_id = AgentId(self.new_id(AGENT_PREFIX))
        self.run(
            CreateAgent(
                principal=PRINCIPAL,
                session_id=session_id,
                name=name,
                role="You test.",
                model="sonnet",
                permission_mode="plan",
                new_id=agent_id,
                new_conversation_id=ConversationId(self.new_id(CONVERSATION_PREFIX)),
                now=time.time(),
            )
        )
        return agent_id

    def send(self, agent_id: str, message: str = "hello") -> TurnId:
        turn_id = TurnId(self.new_id(TURN_PREFIX))
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
                status=status,
                now=time.time(),
                reply="done \x00 ✓" if status is TurnStatus.COMPLETED else None,
                error=None if status is TurnStatus.COMPLETED else "boom",
                cost_usd=0.1,
                duration_ms=1234,
                num_turns=2,
                usage=Usage(input_tokens=10, output_tokens=20, cache_read_input_tokens=3),
                permission_denials=("Bash", 'Write "x"'),
                claude_session_id=claude_id,
            )
        )


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "orch.db"


def reloaded(path: Path) -> State:
    with Store.open(path) as store:
        return store.load()


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
                new_conversation_id=ConversationId(rec.new_id(CONVERSATION_PREFIX)),
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
                    new_conversation_id=ConversationId(rec.new_id(CONVERSATION_PREFIX)),
                    new_turn_id=TurnId(rec.new_id(TURN_PREFIX)),
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


# -- random command sequences -------------------------------------------------

#: Sees every session, so commands on sessions of both owners can succeed.
ADMIN = Principal(subject="local:admin", is_admin=True)
texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
costs = st.floats(0, 100, allow_nan=False, allow_infinity=False)
tokens = st.integers(0, 2**40)


class StoreMatchesMemory(RuleBasedStateMachine):
    """Any sequence of decided commands: the file always loads as the evolved state."""

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp())
        self.path = self.dir / "orch.db"
        self.store = Store.open(self.path)
        self.state = State()
        self.count = 0

    def new_id(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count:016x}"

    def run(self, command: Command) -> None:
        result = decide(self.state, command, POLICY)
        if isinstance(result, Success):
            events = result.unwrap().events
            self.store.apply(events)
            self.state = replay(events, self.state)

    def pick(self, data: st.DataObject, keys: object) -> str:
        return data.draw(st.sampled_from(sorted(keys)))  # type: ignore[call-overload]

    def running(self) -> list[TurnId]:
        return sorted(t.id for t in self.state.turns.values() if t.status is TurnStatus.RUNNING)

    @rule(name=session_names(), owner=st.sampled_from(["local:test", "local:other"]), now=costs)
    def create_session(self, name: str, owner: str, now: float) -> None:
        self.run(
            CreateSession(
                principal=Principal(subject=owner),
                name=name,
                root=root_facts(str(self.dir)),
                description="",
                new_id=SessionId(self.new_id(SESSION_PREFIX)),
                now=now,
            )
        )

    @precondition(lambda self: self.state.sessions)
    @rule(data=st.data(), name=agent_names(), model=st.none() | st.just("opus"), now=costs)
    def create_agent(self, data: st.DataObject, name: str, model: str | None, now: float) -> None:
        self.run(
            CreateAgent(
                principal=ADMIN,
                session_id=self.pick(data, self.state.sessions),
                name=name,
                role="",
                model=model,
                permission_mode=None,
                new_id=AgentId(self.new_id(AGENT_PREFIX)),
                new_conversation_id=ConversationId(self.new_id(CONVERSATION_PREFIX)),
                now=now,
            )
        )

    @precondition(lambda self: self.state.agents)
    @rule(data=st.data(), message=fitting_text(64) | messages(), now=costs)
    def send(self, data: st.DataObject, message: str, now: float) -> None:
        self.run(
            SendMessage(
                principal=ADMIN,
                agent_id=self.pick(data, self.state.agents),
                message=message,
                new_turn_id=TurnId(self.new_id(TURN_PREFIX)),
                now=now,
            )
        )

    @precondition(lambda self: self.running())
    @rule(data=st.data(), pid=st.integers(1, 2**31), start=costs)
    def record(self, data: st.DataObject, pid: int, start: float) -> None:
        process = ProcessInfo(pid=pid, pgid=pid, start_time=start)
        self.run(RecordProcess(turn_id=TurnId(self.pick(data, self.running())), process=process))

    @precondition(lambda self: self.running())
    @rule(
        data=st.data(),
        status=final_statuses(),
        reply=st.none() | texts,
        cost=costs,
        usage=st.builds(Usage, input_tokens=tokens, output_tokens=tokens,
                        cache_read_input_tokens=tokens, cache_creation_input_tokens=tokens),
        denials=st.lists(texts, max_size=3).map(tuple),
        claude_id=st.none() | texts,
        duration=st.none() | st.integers(0, 10**9),
    )  # fmt: skip
    def end(
        self,
        *,
        data: st.DataObject,
        status: TurnStatus,
        reply: str | None,
        cost: float,
        usage: Usage,
        denials: tuple[str, ...],
        claude_id: str | None,
        duration: int | None,
    ) -> None:
        self.run(
            EndTurn(
                turn_id=TurnId(self.pick(data, self.running())),
                status=status,
                now=cost,
                reply=reply,
                error_code=None if reply else "TURN_FAILED",
                error=None if reply else reply,
                cost_usd=cost,
                duration_ms=duration,
                num_turns=3,
                usage=usage,
                permission_denials=denials,
                claude_session_id=claude_id,
            )
        )

    @precondition(lambda self: self.state.agents)
    @rule(data=st.data(), archive=st.booleans(), initial=st.none() | st.just("go"), now=costs)
    def new_conversation(
        self, data: st.DataObject, archive: bool, initial: str | None, now: float
    ) -> None:
        agent_id = self.pick(data, self.state.agents)
        conversation_id = ConversationId(self.new_id(CONVERSATION_PREFIX))
        if archive:
            self.run(
                StartNewConversation(
                    principal=ADMIN,
                    agent_id=agent_id,
                    initial_message=initial,
                    new_conversation_id=conversation_id,
                    new_turn_id=TurnId(self.new_id(TURN_PREFIX)),
                    now=now,
                )
            )
        else:
            self.run(
                ClearConversation(
                    principal=ADMIN,
                    agent_id=agent_id,
                    new_conversation_id=conversation_id,
                    now=now,
                )
            )

    @precondition(lambda self: self.state.agents)
    @rule(data=st.data(), go=st.booleans())
    def delete_agent(self, data: st.DataObject, go: bool) -> None:
        if not go:
            return  # half as likely as other rules, so the tree can grow
        self.run(DeleteAgent(principal=ADMIN, agent_id=self.pick(data, self.state.agents)))

    @precondition(lambda self: self.state.sessions)
    @rule(data=st.data(), force=st.booleans(), go=st.integers(0, 3))
    def delete_session(self, data: st.DataObject, force: bool, go: int) -> None:
        if go:
            return  # a quarter as likely as other rules, so the tree can grow
        session_id = self.pick(data, self.state.sessions)
        self.run(DeleteSession(principal=ADMIN, session_id=session_id, force=force))

    @invariant()
    def file_matches_memory(self) -> None:
        assert self.store.load() == self.state

    def teardown(self) -> None:
        self.store.close()
        try:
            assert reloaded(self.path) == self.state
        finally:
            shutil.rmtree(self.dir)


TestStoreMatchesMemory = StoreMatchesMemory.TestCase
# Steps are cheap (a few ms of SQLite each), but a long run adds nothing the
# profile's example count does not already give.
TestStoreMatchesMemory.settings = settings(stateful_step_count=40, deadline=None)


# -- schema, file and connection settings -------------------------------------


def test_an_empty_file_is_migrated_to_the_latest_version(db_path: Path) -> None:
    db_path.touch()
    with Store.open(db_path) as store:
        assert store.load() == State()
    with sqlite3.connect(db_path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 1
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_newer_schema_is_refused_and_left_alone(db_path: Path) -> None:
    with sqlite3.connect(db_path) as db:
        db.execute("PRAGMA user_version = 999")
    with pytest.raises(StoreError) as raised:
        Store.open(db_path)
    assert str(raised.value) == (
        "database schema version 999 is newer than this orch (1); upgrade orch"
    )
    with sqlite3.connect(db_path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 999
        assert db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0


def test_reopening_keeps_data_and_version(db_path: Path, tmp_path: Path) -> None:
    with Store.open(db_path) as store:
        Recorder(store, str(tmp_path)).session("kept")
    with Store.open(db_path) as store:
        assert [s.name for s in store.load().sessions.values()] == ["kept"]


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
        unknown = TurnEnded(turn_id=TurnId("trn_ffffffffffffffff"), status=TurnStatus.FAILED,
                            finished_at=1.0)  # fmt: skip
        with pytest.raises(StoreError):
            store.apply([SessionCreated(session=fresh), unknown])
        assert store.load() == before
        # The store is still usable after a rollback.
        store.apply([SessionCreated(session=fresh)])
        assert set(store.load().sessions) == {session.id, fresh.id}
    assert reloaded(db_path).sessions.keys() == {session.id, fresh.id}


# -- crash --------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_killed_writer_leaves_a_prefix_of_whole_batches(tmp_path: Path, seed: int) -> None:
    db_path = tmp_path / "orch.db"
    child = subprocess.Popen(
        [sys.executable, str(WORKLOAD), str(db_path), str(tmp_path), str(seed)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    target = random.Random(seed).randrange(20, 80)
    reported = 0
    while reported < target:
        line = child.stdout.readline()
        assert line, f"the writer stopped early (exit {child.poll()})"
        reported = int(line)
    time.sleep(random.Random(seed).random() / 200)  # land anywhere in a transaction
    os.kill(child.pid, signal.SIGKILL)
    reported = max([reported, *(int(line) for line in child.stdout.read().split())])
    child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL

    with sqlite3.connect(db_path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    loaded = reloaded(db_path)
    # Every printed batch was committed; at most one more was committed unprinted.
    candidates = []
    for count, (_events, state) in enumerate(batches(str(tmp_path), seed), start=1):
        if count >= reported:
            candidates.append(state)
        if count == reported + 1:
            break
    assert loaded in candidates
