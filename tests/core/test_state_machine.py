"""Random tool sequences through ``decide`` + ``evolve``, against a small model.

Two principals drive every command on ids from bundles that also hold deleted
ids and ids that never existed. After each step the state must be consistent
(the invariants below, stated as the contracts users rely on) and agree with a
deliberately simple model of what exists; every refusal must carry the code the
model predicts and leave the state untouched. At the end, replaying the
recorded events from nothing must rebuild the state exactly.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import attrs
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    MultipleResults,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)
from returns.result import Failure, Success

from orch_core import (
    CancelTurn,
    ClearConversation,
    Command,
    CreateAgent,
    CreateSession,
    Decision,
    DeleteAgent,
    DeleteSession,
    EndTurn,
    ErrorCode,
    Event,
    PathFacts,
    Principal,
    ProcessInfo,
    RecordProcess,
    SendMessage,
    StartNewConversation,
    StartTurn,
    State,
    StopTurn,
    TurnOutcome,
    TurnStarted,
    TurnStatus,
    Usage,
    check_invariants,
    decide,
    evolve,
    list_sessions,
    replay,
)
from tests.core.scenario import FakeClock, IdMint, directory
from tests.strategies import (
    ALICE,
    BOB,
    SMALL_POLICY,
    agent_ids,
    invalid_agent_names,
    malformed_ids,
    message_cases,
    path_fact_cases,
    session_ids,
    session_name_cases,
    turn_ids,
)

LIMITS = SMALL_POLICY.limits
Expected = ErrorCode | None
Case = tuple[Any, Expected]
Created = str | MultipleResults[str]

principals = st.sampled_from([ALICE, BOB])
#: Who acts on an existing thing: mostly its owner, sometimes either principal.
actors = st.sampled_from(["owner", "owner", "owner", "alice", "bob"])


def mostly(valid: st.SearchStrategy[Case], anything: st.SearchStrategy[Case]) -> Any:
    """Valid input three times in four, so sequences get deep; the rest anything."""
    return st.integers(0, 3).flatmap(lambda i: anything if i == 0 else valid)


session_name_choices = mostly(
    st.sampled_from(["alpha", "beta", " alpha ", "gamma", "delta"]).map(lambda n: (n, None)),
    session_name_cases(LIMITS.max_name_chars),
)
root_choices = mostly(
    st.sampled_from(SMALL_POLICY.allowed_roots).map(lambda r: (directory(r), None)),
    path_fact_cases(SMALL_POLICY.allowed_roots),
)
agent_name_choices = mostly(
    st.sampled_from(["dev", "qa", "ops", "lead"]).map(lambda n: (n, None)),
    invalid_agent_names().map(lambda n: (n, ErrorCode.INVALID_ARGUMENT)),
)
permission_mode_choices: st.SearchStrategy[Case] = st.sampled_from(
    [(None, None), ("plan", None), ("bypassPermissions", ErrorCode.INVALID_ARGUMENT)]
)
message_choices = mostly(st.just(("do the thing", None)), message_cases())


#: Never-existing ids per bundle: enough to probe, few enough that real ids dominate.
GHOSTS = 2


def ghost(ids: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Well-formed ids that were never minted (minted bodies start with ``0000``)."""
    return ids.map(lambda i: i[:4] + "f" + i[5:])


def first(*outcomes: Expected) -> Expected:
    """The first refusal, in the order the core checks them."""
    return next((o for o in outcomes if o is not None), None)


def snapshot(state: State) -> State:
    """A copy whose mappings are new dicts (everything inside them is frozen)."""
    return State(
        sessions=dict(state.sessions),
        agents=dict(state.agents),
        conversations=dict(state.conversations),
        turns=dict(state.turns),
    )


@attrs.define
class ModelSession:
    owner: Principal
    name: str
    agents: list[str] = attrs.Factory(list)


@attrs.define
class ModelAgent:
    session: str
    name: str
    conversation: str
    archived: list[str] = attrs.Factory(list)
    running: str | None = None


class CoreMachine(RuleBasedStateMachine):
    sessions = Bundle("sessions")
    agents = Bundle("agents")
    turns = Bundle("turns")

    def __init__(self) -> None:
        super().__init__()
        self.state = State()
        self.events: list[Event] = []
        self.clock = FakeClock()
        self.ids = IdMint()
        self.model_sessions: dict[str, ModelSession] = {}
        self.model_agents: dict[str, ModelAgent] = {}
        self.model_turns: dict[str, str] = {}  # live turn -> its conversation
        self.deleted: set[str] = set()
        self.ghosts: Counter[str] = Counter()
        self.created: Counter[str] = Counter()

    # -- the model's view of who may see what ------------------------------------

    def visible_session(self, principal: Principal, session_id: str) -> ModelSession | None:
        session = self.model_sessions.get(session_id)
        return session if session is not None and session.owner == principal else None

    def visible_agent(self, principal: Principal, agent_id: str) -> ModelAgent | None:
        agent = self.model_agents.get(agent_id)
        if agent is None or self.visible_session(principal, agent.session) is None:
            return None
        return agent

    def may_add_ghost(self, kind: str) -> bool:
        """A few never-existing ids, and only once real ones exist to outnumber them."""
        return self.ghosts[kind] < GHOSTS and self.created[kind] > 2 * self.ghosts[kind]

    def actor(self, who: str, session_id: str | None) -> Principal:
        session = None if session_id is None else self.model_sessions.get(session_id)
        if who == "owner" and session is not None:
            return session.owner
        return BOB if who == "bob" else ALICE

    def agent_actor(self, who: str, agent_id: str) -> Principal:
        agent = self.model_agents.get(agent_id)
        return self.actor(who, None if agent is None else agent.session)

    def over_a_turn_cap(self, agent: ModelAgent | None) -> Expected:
        """``LIMIT_EXCEEDED`` when one more turn for ``agent``'s session owner breaks a cap."""
        if agent is None:
            return None
        owner = self.model_sessions[agent.session].owner
        running = [a for a in self.model_agents.values() if a.running is not None]
        mine = [a for a in running if self.model_sessions[a.session].owner == owner]
        over = (
            len(running) >= LIMITS.max_running_turns
            or len(mine) >= LIMITS.max_running_turns_per_principal
        )
        return ErrorCode.LIMIT_EXCEEDED if over else None

    def forget_agent(self, agent_id: str) -> None:
        agent = self.model_agents.pop(agent_id)
        conversations = {agent.conversation, *agent.archived}
        turns = {t for t, c in self.model_turns.items() if c in conversations}
        self.model_turns = {t: c for t, c in self.model_turns.items() if t not in turns}
        self.deleted.update({agent_id, *conversations, *turns})

    # -- running one command -----------------------------------------------------

    def execute(self, command: Command, expected: Expected, target: str = "") -> Decision | None:
        """Decide ``command``; check the outcome is ``expected``; record and apply it."""
        before = self.state
        copy = snapshot(before)
        result = decide(before, command, SMALL_POLICY)
        assert self.state == copy, "decide changed its input state"
        if isinstance(result, Failure):
            error = result.failure()
            assert isinstance(error.code, ErrorCode)
            assert error.code is expected, (command, error, expected)
            if error.code is ErrorCode.NOT_FOUND and target:
                self.check_not_found_shape(command, target, error.message)
            return None
        assert isinstance(result, Success)
        assert expected is None, (command, result, expected)
        decision = result.unwrap()
        started = {e.turn.id for e in decision.events if isinstance(e, TurnStarted)}
        for effect in decision.effects:
            if isinstance(effect, StartTurn):
                assert effect.turn_id in started, effect
            else:
                assert before.turns[effect.turn_id].status is TurnStatus.RUNNING, effect
        for event in decision.events:
            self.state = evolve(self.state, event)
            self.events.append(event)
        return decision

    def check_not_found_shape(self, command: Command, target: str, message: str) -> None:
        """Someone else's id reads exactly like one that never existed."""
        field = next(
            f for f in ("session_id", "agent_id", "turn_id") if getattr(command, f, None) == target
        )
        never = target[:4] + "ffffffffffffffff"
        other = decide(self.state, attrs.evolve(command, **{field: never}), SMALL_POLICY)
        assert other.failure().message.replace(never, "<id>") == message.replace(target, "<id>")

    # -- rules ---------------------------------------------------------------------

    @initialize(target=sessions)
    def one_session_each(self) -> MultipleResults[str]:
        """Start where users start: each principal has a session (so agents come soon)."""
        made = []
        for principal, root in ((ALICE, "/srv/orch"), (BOB, "/home/a")):
            command = CreateSession(
                principal=principal,
                name="home",
                root=directory(root),
                description="",
                new_id=self.ids.session(),
                now=self.clock.now,
            )
            self.execute(command, None)
            self.model_sessions[command.new_id] = ModelSession(owner=principal, name="home")
            made.append(command.new_id)
        return multiple(*made)

    @rule(seconds=st.floats(0, 600, allow_nan=False))
    def tick(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @precondition(lambda self: self.may_add_ghost("session"))
    @rule(target=sessions, sid=ghost(session_ids()))
    def never_existing_session(self, sid: str) -> str:
        self.ghosts["session"] += 1
        return sid

    @precondition(lambda self: self.may_add_ghost("agent"))
    @rule(target=agents, aid=ghost(agent_ids()))
    def never_existing_agent(self, aid: str) -> str:
        self.ghosts["agent"] += 1
        return aid

    @precondition(lambda self: self.may_add_ghost("turn"))
    @rule(target=turns, tid=ghost(turn_ids()))
    def never_existing_turn(self, tid: str) -> str:
        self.ghosts["turn"] += 1
        return tid

    @rule(
        target=sessions,
        principal=principals,
        name=session_name_choices,
        root=root_choices,
    )
    def create_session(
        self, principal: Principal, name: Case, root: tuple[PathFacts, Expected]
    ) -> Created:
        command = CreateSession(
            principal=principal,
            name=name[0],
            root=root[0],
            description="",
            new_id=self.ids.session(),
            now=self.clock.now,
        )
        mine = [s for s in self.model_sessions.values() if s.owner == principal]
        expected = first(
            name[1],
            root[1],
            ErrorCode.NAME_TAKEN if any(s.name == name[0].strip() for s in mine) else None,
            ErrorCode.LIMIT_EXCEEDED if len(mine) >= LIMITS.max_sessions_per_principal else None,
        )
        if self.execute(command, expected) is None:
            return multiple()
        self.model_sessions[command.new_id] = ModelSession(owner=principal, name=name[0].strip())
        self.created["session"] += 1
        return command.new_id

    @rule(who=actors, sid=sessions, force=st.booleans())
    def delete_session(self, who: str, sid: str, force: bool) -> None:
        principal = self.actor(who, sid)
        session = self.visible_session(principal, sid)
        running = (
            set()
            if session is None
            else {r for a in session.agents if (r := self.model_agents[a].running) is not None}
        )
        expected = first(
            ErrorCode.NOT_FOUND if session is None else None,
            ErrorCode.SESSION_BUSY if running and not force else None,
        )
        command = DeleteSession(principal=principal, session_id=sid, force=force)
        decision = self.execute(command, expected, target=sid)
        if decision is not None and session is not None:
            assert set(decision.effects) == {StopTurn(turn_id=t) for t in running}
            assert len(decision.effects) == len(running)
            for agent in session.agents:
                self.forget_agent(agent)
            del self.model_sessions[sid]
            self.deleted.add(sid)

    @rule(
        target=agents,
        who=actors,
        sid=sessions,
        name=agent_name_choices,
        mode=permission_mode_choices,
    )
    def create_agent(self, who: str, sid: str, name: Case, mode: Case) -> Created:
        principal = self.actor(who, sid)
        command = CreateAgent(
            principal=principal,
            session_id=sid,
            name=name[0],
            role="",
            model=None,
            permission_mode=mode[0],
            new_id=self.ids.agent(),
            new_conversation_id=self.ids.conversation(),
            now=self.clock.now,
        )
        session = self.visible_session(principal, sid)
        names = [] if session is None else [self.model_agents[a].name for a in session.agents]
        expected = first(
            ErrorCode.NOT_FOUND if session is None else None,
            name[1],
            mode[1],
            ErrorCode.NAME_TAKEN if name[0] in names else None,
            ErrorCode.LIMIT_EXCEEDED if len(names) >= LIMITS.max_agents_per_session else None,
            ErrorCode.LIMIT_EXCEEDED if len(self.model_agents) >= LIMITS.max_agents_total else None,
        )
        if self.execute(command, expected, target=sid) is None or session is None:
            return multiple()
        session.agents.append(command.new_id)
        self.created["agent"] += 1
        self.model_agents[command.new_id] = ModelAgent(
            session=sid, name=name[0], conversation=command.new_conversation_id
        )
        return command.new_id

    @rule(who=actors, aid=agents)
    def delete_agent(self, who: str, aid: str) -> None:
        principal = self.agent_actor(who, aid)
        agent = self.visible_agent(principal, aid)
        command = DeleteAgent(principal=principal, agent_id=aid)
        decision = self.execute(command, ErrorCode.NOT_FOUND if agent is None else None, target=aid)
        if decision is not None and agent is not None:
            stops = () if agent.running is None else (StopTurn(turn_id=agent.running),)
            assert decision.effects == stops
            self.model_sessions[agent.session].agents.remove(aid)
            self.forget_agent(aid)

    def started(self, decision: Decision, agent: ModelAgent, turn: str) -> None:
        (start,) = decision.effects
        assert isinstance(start, StartTurn)
        assert start.turn_id == turn
        assert start.cwd == self.state.sessions[agent.session].root_path
        agent.running = turn
        self.created["turn"] += 1
        self.model_turns[turn] = agent.conversation

    @rule(target=turns, who=actors, aid=agents, message=message_choices)
    def send_message(self, who: str, aid: str, message: Case) -> Created:
        principal = self.agent_actor(who, aid)
        agent = self.visible_agent(principal, aid)
        command = SendMessage(
            principal=principal,
            agent_id=aid,
            message=message[0],
            new_turn_id=self.ids.turn(),
            now=self.clock.now,
        )
        expected = first(
            ErrorCode.NOT_FOUND if agent is None else None,
            message[1],
            ErrorCode.AGENT_BUSY if agent is not None and agent.running else None,
            self.over_a_turn_cap(agent),
        )
        decision = self.execute(command, expected, target=aid)
        if decision is None or agent is None:
            return multiple()
        self.started(decision, agent, command.new_turn_id)
        return command.new_turn_id

    @rule(who=actors, aid=agents)
    def clear_conversation(self, who: str, aid: str) -> None:
        principal = self.agent_actor(who, aid)
        agent = self.visible_agent(principal, aid)
        command = ClearConversation(
            principal=principal,
            agent_id=aid,
            new_conversation_id=self.ids.conversation(),
            now=self.clock.now,
        )
        expected = first(
            ErrorCode.NOT_FOUND if agent is None else None,
            ErrorCode.AGENT_BUSY if agent is not None and agent.running else None,
        )
        if self.execute(command, expected, target=aid) is not None and agent is not None:
            gone = [t for t, c in self.model_turns.items() if c == agent.conversation]
            for turn in gone:
                del self.model_turns[turn]
            self.deleted.update([*gone, agent.conversation])
            agent.conversation = command.new_conversation_id

    @rule(
        target=turns,
        who=actors,
        aid=agents,
        initial=st.none() | message_choices,
    )
    def start_new_conversation(self, who: str, aid: str, initial: Case | None) -> Created:
        principal = self.agent_actor(who, aid)
        agent = self.visible_agent(principal, aid)
        command = StartNewConversation(
            principal=principal,
            agent_id=aid,
            initial_message=None if initial is None else initial[0],
            new_conversation_id=self.ids.conversation(),
            new_turn_id=self.ids.turn(),
            now=self.clock.now,
        )
        expected = first(
            ErrorCode.NOT_FOUND if agent is None else None,
            None if initial is None else initial[1],
            ErrorCode.AGENT_BUSY if agent is not None and agent.running else None,
            None if initial is None else self.over_a_turn_cap(agent),
        )
        decision = self.execute(command, expected, target=aid)
        if decision is None or agent is None:
            return multiple()
        agent.archived.append(agent.conversation)
        agent.conversation = command.new_conversation_id
        if initial is None:
            assert decision.effects == ()
            return multiple()
        self.started(decision, agent, command.new_turn_id)
        return command.new_turn_id

    def end(self, tid: str, status: TurnStatus, cost: float) -> None:
        live = tid in self.model_turns
        running = live and self.state.turns[tid].status is TurnStatus.RUNNING
        expected = first(
            None if live else ErrorCode.NOT_FOUND,
            None if running and status is not TurnStatus.RUNNING else ErrorCode.INVALID_ARGUMENT,
        )
        command = EndTurn(
            turn_id=tid,
            now=self.clock.now,
            outcome=TurnOutcome(
                status=status,
                reply="ok" if status is TurnStatus.COMPLETED else None,
                cost_usd=cost,
                usage=Usage(input_tokens=3, output_tokens=2),
                claude_session_id="c-" + tid,
            ),
        )
        if self.execute(command, expected, target=tid) is not None:
            agent = self.model_agents[self.state.turns[tid].agent_id]
            assert agent.running == tid
            agent.running = None

    @rule(tid=turns, status=st.sampled_from(TurnStatus), cost=st.floats(0, 2))
    def end_turn(self, tid: str, status: TurnStatus, cost: float) -> None:
        self.end(tid, status, cost)

    @precondition(lambda self: any(a.running for a in self.model_agents.values()))
    @rule(data=st.data(), status=st.sampled_from(TurnStatus), cost=st.floats(0, 2))
    def end_a_running_turn(self, data: st.DataObject, status: TurnStatus, cost: float) -> None:
        running = sorted(a.running for a in self.model_agents.values() if a.running)
        self.end(data.draw(st.sampled_from(running)), status, cost)

    @rule(tid=turns)
    def cancel_turn(self, tid: str) -> None:
        live = tid in self.model_turns
        running = live and self.state.turns[tid].status is TurnStatus.RUNNING
        expected = first(
            None if live else ErrorCode.NOT_FOUND,
            None if running else ErrorCode.INVALID_ARGUMENT,
        )
        command = CancelTurn(turn_id=tid, now=self.clock.now, reason="the client cancelled")
        decision = self.execute(command, expected, target=tid)
        if decision is not None:
            assert decision.effects == (StopTurn(turn_id=tid),)
            assert self.state.turns[tid].status is TurnStatus.CANCELLED
            assert self.state.turns[tid].error == "the client cancelled"
            agent = self.model_agents[self.state.turns[tid].agent_id]
            assert agent.running == tid
            agent.running = None

    @rule(tid=turns, pid=st.integers(1, 2**22))
    def record_process(self, tid: str, pid: int) -> None:
        live = tid in self.model_turns
        running = live and self.state.turns[tid].status is TurnStatus.RUNNING
        expected = first(
            None if live else ErrorCode.NOT_FOUND,
            None if running else ErrorCode.INVALID_ARGUMENT,
        )
        process = ProcessInfo(pid=pid, pgid=pid, start_time=self.clock.now)
        if self.execute(RecordProcess(turn_id=tid, process=process), expected, target=tid):
            assert self.state.turns[tid].process == process

    @rule(principal=principals, junk=malformed_ids(), kind=st.sampled_from(["s", "a", "t"]))
    def malformed_id(self, principal: Principal, junk: str, kind: str) -> None:
        command: Command
        if kind == "s":
            command = DeleteSession(principal=principal, session_id=junk, force=True)
        elif kind == "a":
            command = DeleteAgent(principal=principal, agent_id=junk)
        else:
            command = EndTurn(
                turn_id=junk, now=self.clock.now, outcome=TurnOutcome(status=TurnStatus.FAILED)
            )
        self.execute(command, ErrorCode.NOT_FOUND)

    # -- invariants --------------------------------------------------------------------

    @invariant()
    def state_is_consistent(self) -> None:
        assert check_invariants(self.state) == []

    @invariant()
    def state_agrees_with_the_model(self) -> None:
        state = self.state
        assert set(state.sessions) == set(self.model_sessions)
        assert set(state.agents) == set(self.model_agents)
        assert set(state.turns) == set(self.model_turns)
        for sid, session in self.model_sessions.items():
            assert state.sessions[sid].owner == session.owner.subject
            assert list(state.sessions[sid].agent_ids) == session.agents
        for aid, agent in self.model_agents.items():
            assert state.agents[aid].running_turn_id == agent.running
            assert state.agents[aid].conversation_id == agent.conversation
            assert list(state.agents[aid].archived_conversation_ids) == agent.archived

    @invariant()
    def names_are_unique_per_owner_and_per_session(self) -> None:
        owners = Counter((s.owner, s.name) for s in self.state.sessions.values())
        assert all(n == 1 for n in owners.values()), owners
        for session in self.state.sessions.values():
            names = [self.state.agents[a].name for a in session.agent_ids]
            assert len(names) == len(set(names)), names

    @invariant()
    def one_running_turn_per_agent_and_the_agent_knows_it(self) -> None:
        running = Counter(
            t.agent_id for t in self.state.turns.values() if t.status is TurnStatus.RUNNING
        )
        assert all(n == 1 for n in running.values()), running
        for agent in self.state.agents.values():
            turn = agent.running_turn_id
            if turn is None:
                assert running[agent.id] == 0
            else:
                assert self.state.turns[turn].status is TurnStatus.RUNNING
                assert self.state.turns[turn].agent_id == agent.id

    @invariant()
    def no_agent_without_its_session(self) -> None:
        for agent in self.state.agents.values():
            assert agent.id in self.state.sessions[agent.session_id].agent_ids

    @invariant()
    def deleted_stays_deleted(self) -> None:
        state = self.state
        for ident in self.deleted:
            assert ident not in state.sessions
            assert ident not in state.agents
            assert ident not in state.conversations
            assert ident not in state.turns

    @invariant()
    def each_principal_lists_only_its_sessions(self) -> None:
        for principal in (ALICE, BOB):
            mine = {s for s, m in self.model_sessions.items() if m.owner == principal}
            assert {s.session_id for s in list_sessions(self.state, principal)} == mine

    def teardown(self) -> None:
        assert replay(self.events) == self.state


# A sequence needs a few steps before it reaches a running turn, a limit or a busy
# session, so the machine gets four times the profile's examples (dev: 120, ~5 s).
CoreMachine.TestCase.settings = settings(
    settings.default, max_examples=4 * settings.default.max_examples, stateful_step_count=50
)
TestCoreMachine = CoreMachine.TestCase
