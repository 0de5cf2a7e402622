"""Events: the facts :func:`orch_core.decide` records and :func:`orch_core.evolve` applies.

An event is past tense and carries every value the new state needs (ids, times,
texts), so replaying the recorded events through ``evolve`` from an empty state
rebuilds the same state - a property the tests check.
"""

from __future__ import annotations

from attrs import frozen

from ._ids import AgentId, SessionId, TurnId
from ._model import Agent, Conversation, ProcessInfo, Session, Turn, TurnOutcome


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
    finished_at: float
    outcome: TurnOutcome


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
