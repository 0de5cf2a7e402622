"""Events: the facts :func:`orch_core.decide` records and :func:`orch_core.evolve` applies.

An event is past tense and carries every value the new state needs (ids, times,
texts), so replaying the recorded events through ``evolve`` from an empty state
rebuilds the same state - a property the tests check.
"""

from __future__ import annotations

from attrs import Factory, frozen

from ._ids import AgentId, SessionId, TurnId
from ._lifecycle import TurnStatus
from ._model import Agent, Conversation, ProcessInfo, Session, Turn, Usage


@frozen(kw_only=True)
class SessionCreated:
    session: Session


@frozen(kw_only=True)
class SessionDeleted:
    """The session, its agents, their conversations and turns are gone (files on disk stay)."""

    session_id: SessionId


@frozen(kw_only=True)
class AgentCreated:
    agent: Agent
    conversation: Conversation


@frozen(kw_only=True)
class AgentDeleted:
    """The agent, its conversations and turns are gone."""

    agent_id: AgentId


@frozen(kw_only=True)
class TurnStarted:
    turn: Turn


@frozen(kw_only=True)
class TurnProcessRecorded:
    turn_id: TurnId
    process: ProcessInfo


@frozen(kw_only=True)
class TurnEnded:
    """A running turn reached a final state; the agent is idle again."""

    turn_id: TurnId
    status: TurnStatus
    finished_at: float
    reply: str | None = None
    error_code: str | None = None
    error: str | None = None
    cost_usd: float = 0.0
    duration_ms: int | None = None
    num_turns: int = 0
    usage: Usage = Factory(Usage)
    permission_denials: tuple[str, ...] = ()
    claude_session_id: str | None = None


@frozen(kw_only=True)
class ConversationCleared:
    """The active conversation and its transcript are discarded; a fresh one replaces it."""

    agent_id: AgentId
    conversation: Conversation


@frozen(kw_only=True)
class ConversationArchived:
    """The active conversation is kept as archived; a fresh one replaces it."""

    agent_id: AgentId
    archived_at: float
    conversation: Conversation


Event = (
    SessionCreated
    | SessionDeleted
    | AgentCreated
    | AgentDeleted
    | TurnStarted
    | TurnProcessRecorded
    | TurnEnded
    | ConversationCleared
    | ConversationArchived
)
