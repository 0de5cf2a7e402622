"""Any sequence of decided commands: the database always loads as the evolved state.

A hypothesis state machine draws commands of every kind (invalid ones too, which
``decide`` refuses and nothing records), records each decision's events in a real
SQLite file and folds them into a state in memory, and compares the two after
every step and once more after reopening the file.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from orch_core import (
    ClearConversation,
    Command,
    CreateAgent,
    CreateSession,
    DeleteAgent,
    DeleteSession,
    EndTurn,
    Principal,
    ProcessInfo,
    RecordProcess,
    SendMessage,
    StartNewConversation,
    State,
    TurnId,
    TurnOutcome,
    TurnStatus,
    Usage,
)
from orch_shell._store import Store
from tests.core.scenario import IdMint, directory
from tests.shell.store_workload import decide_and_record, reloaded
from tests.strategies import agent_names, final_statuses, fitting_text, messages, session_names

#: Sees every session, so commands on sessions of both owners can succeed.
ADMIN = Principal(subject="local:admin", scopes={"orch:admin"})
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
        self.ids = IdMint()

    def run(self, command: Command) -> None:
        self.state, _ = decide_and_record(self.store, self.state, command)

    def pick(self, data: st.DataObject, keys: Iterable[str]) -> str:
        return data.draw(st.sampled_from(sorted(keys)))

    def running(self) -> list[TurnId]:
        return sorted(t.id for t in self.state.turns.values() if t.status is TurnStatus.RUNNING)

    @rule(name=session_names(), owner=st.sampled_from(["local:test", "local:other"]), now=costs)
    def create_session(self, name: str, owner: str, now: float) -> None:
        self.run(
            CreateSession(
                principal=Principal(subject=owner),
                name=name,
                root=directory(str(self.dir)),
                description="",
                new_id=self.ids.session(),
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
                new_id=self.ids.agent(),
                new_conversation_id=self.ids.conversation(),
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
                new_turn_id=self.ids.turn(),
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
                now=cost,
                outcome=TurnOutcome(
                    status=status,
                    reply=reply,
                    error_code=None if reply else "TURN_FAILED",
                    error=None if reply else reply,
                    cost_usd=cost,
                    duration_ms=duration,
                    num_turns=3,
                    usage=usage,
                    permission_denials=denials,
                    claude_session_id=claude_id,
                ),
            )
        )

    @precondition(lambda self: self.state.agents)
    @rule(data=st.data(), archive=st.booleans(), initial=st.none() | st.just("go"), now=costs)
    def new_conversation(
        self, data: st.DataObject, archive: bool, initial: str | None, now: float
    ) -> None:
        agent_id = self.pick(data, self.state.agents)
        conversation_id = self.ids.conversation()
        if archive:
            self.run(
                StartNewConversation(
                    principal=ADMIN,
                    agent_id=agent_id,
                    initial_message=initial,
                    new_conversation_id=conversation_id,
                    new_turn_id=self.ids.turn(),
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
