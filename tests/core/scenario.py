"""A small driver for the core: a fake clock, minted ids, and decide + evolve.

Tests state what a user does ("alice creates a session, sends a message") and
get back ids; every successful decision's events are applied and recorded, so a
test can also check ``replay(scenario.events) == scenario.state``.
"""

from __future__ import annotations

from attrs import Factory, define
from returns.result import Failure, Result, Success

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
    Decision,
    EndTurn,
    Event,
    OrchError,
    PathFacts,
    Policy,
    Principal,
    SendMessage,
    SessionId,
    StartNewConversation,
    State,
    TurnId,
    TurnOutcome,
    TurnStatus,
    Usage,
    decide,
    evolve,
)


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("a monotonic clock does not go back")
        self.now += seconds
        return self.now


class IdMint:
    """Fresh ids of each kind: prefix + 16 lowercase hex, counting up from 1."""

    def __init__(self, marker: int = 0) -> None:
        self._marker = marker
        self._next = 0

    def mint(self, prefix: str) -> str:
        self._next += 1
        return f"{prefix}{self._marker:04x}{self._next:012x}"

    def session(self) -> SessionId:
        return SessionId(self.mint(SESSION_PREFIX))

    def agent(self) -> AgentId:
        return AgentId(self.mint(AGENT_PREFIX))

    def conversation(self) -> ConversationId:
        return ConversationId(self.mint(CONVERSATION_PREFIX))

    def turn(self) -> TurnId:
        return TurnId(self.mint(TURN_PREFIX))


def directory(path: str) -> PathFacts:
    """Facts for an existing directory that is its own resolved path."""
    return PathFacts(given=path, is_absolute=True, exists=True, is_dir=True, resolved=path)


@define
class Scenario:
    """The core driven as the shell drives it (minus the processes)."""

    policy: Policy
    principal: Principal
    state: State = Factory(State)
    events: list[Event] = Factory(list)
    clock: FakeClock = Factory(FakeClock)
    ids: IdMint = Factory(IdMint)

    def run(self, command: Command) -> Result[Decision, OrchError]:
        result = decide(self.state, command, self.policy)
        if isinstance(result, Success):
            for event in result.unwrap().events:
                self.state = evolve(self.state, event)
                self.events.append(event)
        return result

    def ok(self, command: Command) -> Decision:
        result = self.run(command)
        assert isinstance(result, Success), f"{command!r} failed: {result!r}"
        return result.unwrap()

    def fail(self, command: Command) -> OrchError:
        before = self.state
        result = self.run(command)
        assert isinstance(result, Failure), f"{command!r} succeeded: {result!r}"
        assert self.state is before
        return result.failure()

    def who(self, principal: Principal | None) -> Principal:
        return self.principal if principal is None else principal

    def create_session(
        self,
        name: str = "proj",
        *,
        root: PathFacts | None = None,
        description: str = "",
        principal: Principal | None = None,
    ) -> CreateSession:
        return CreateSession(
            principal=self.who(principal),
            name=name,
            root=directory("/srv/orch/proj") if root is None else root,
            description=description,
            new_id=self.ids.session(),
            now=self.clock.now,
        )

    def session(self, name: str = "proj", *, principal: Principal | None = None) -> SessionId:
        command = self.create_session(name, principal=principal)
        self.ok(command)
        return command.new_id

    def create_agent(
        self,
        session_id: str,
        name: str = "dev",
        *,
        role: str = "",
        model: str | None = None,
        permission_mode: str | None = None,
        principal: Principal | None = None,
    ) -> CreateAgent:
        return CreateAgent(
            principal=self.who(principal),
            session_id=session_id,
            name=name,
            role=role,
            model=model,
            permission_mode=permission_mode,
            new_id=self.ids.agent(),
            new_conversation_id=self.ids.conversation(),
            now=self.clock.now,
        )

    def agent(self, session_id: str, name: str = "dev", *, role: str = "") -> AgentId:
        command = self.create_agent(session_id, name, role=role)
        self.ok(command)
        return command.new_id

    def send_message(
        self, agent_id: str, message: str = "hello", *, principal: Principal | None = None
    ) -> SendMessage:
        return SendMessage(
            principal=self.who(principal),
            agent_id=agent_id,
            message=message,
            new_turn_id=self.ids.turn(),
            now=self.clock.now,
        )

    def send(self, agent_id: str, message: str = "hello") -> TurnId:
        command = self.send_message(agent_id, message)
        self.ok(command)
        return command.new_turn_id

    def end(
        self,
        turn_id: TurnId,
        status: TurnStatus = TurnStatus.COMPLETED,
        *,
        reply: str | None = "done",
        cost_usd: float = 0.0,
        usage: Usage | None = None,
        claude_session_id: str | None = None,
    ) -> Decision:
        return self.ok(
            EndTurn(
                turn_id=turn_id,
                now=self.clock.now,
                outcome=TurnOutcome(
                    status=status,
                    reply=reply,
                    cost_usd=cost_usd,
                    usage=Usage() if usage is None else usage,
                    claude_session_id=claude_session_id,
                ),
            )
        )

    def clear(self, agent_id: str, *, principal: Principal | None = None) -> ClearConversation:
        return ClearConversation(
            principal=self.who(principal),
            agent_id=agent_id,
            new_conversation_id=self.ids.conversation(),
            now=self.clock.now,
        )

    def start_new(
        self,
        agent_id: str,
        initial_message: str | None = None,
        *,
        principal: Principal | None = None,
    ) -> StartNewConversation:
        return StartNewConversation(
            principal=self.who(principal),
            agent_id=agent_id,
            initial_message=initial_message,
            new_conversation_id=self.ids.conversation(),
            new_turn_id=self.ids.turn(),
            now=self.clock.now,
        )
