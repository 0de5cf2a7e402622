"""Apply one event to the state. Pure, total over valid events, never mutating.

``evolve`` trusts that events came from :func:`orch_core.decide` on the same
state (the precondition is checked by contracts in :mod:`._decide`); replaying a
recorded event sequence from ``State()`` therefore rebuilds the recorded state.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import singledispatch
from typing import TypeVar

import attrs

from ._events import (
    AgentCreated,
    AgentDeleted,
    ConversationArchived,
    ConversationCleared,
    Event,
    SessionCreated,
    SessionDeleted,
    TurnEnded,
    TurnProcessRecorded,
    TurnStarted,
)
from ._ids import AgentId
from ._lifecycle import ConversationStatus, TurnStatus
from ._model import State, Totals

K = TypeVar("K")
V = TypeVar("V")


def evolve(state: State, event: Event) -> State:
    """The state after ``event``."""
    return _apply(event, state)


def replay(events: Iterable[Event], state: State | None = None) -> State:
    """Fold ``events`` over ``state`` (default: empty)."""
    current = State() if state is None else state
    for event in events:
        current = evolve(current, event)
    return current


def _put(mapping: Mapping[K, V], key: K, value: V) -> dict[K, V]:
    return {**mapping, key: value}


def _drop(mapping: Mapping[K, V], keys: Iterable[K]) -> dict[K, V]:
    gone = set(keys)
    return {k: v for k, v in mapping.items() if k not in gone}


@singledispatch
def _apply(event: object, state: State) -> State:
    raise TypeError(f"not an event: {event!r}")


@_apply.register
def _(event: SessionCreated, state: State) -> State:
    return attrs.evolve(state, sessions=_put(state.sessions, event.session.id, event.session))


@_apply.register
def _(event: SessionDeleted, state: State) -> State:
    session = state.sessions[event.session_id]
    for agent_id in session.agent_ids:
        state = _without_agent(state, agent_id)
    return attrs.evolve(state, sessions=_drop(state.sessions, [event.session_id]))


@_apply.register
def _(event: AgentCreated, state: State) -> State:
    session = state.sessions[event.agent.session_id]
    session = attrs.evolve(session, agent_ids=(*session.agent_ids, event.agent.id))
    return attrs.evolve(
        state,
        sessions=_put(state.sessions, session.id, session),
        agents=_put(state.agents, event.agent.id, event.agent),
        conversations=_put(state.conversations, event.conversation.id, event.conversation),
    )


@_apply.register
def _(event: AgentDeleted, state: State) -> State:
    agent = state.agents[event.agent_id]
    session = state.sessions[agent.session_id]
    session = attrs.evolve(session, agent_ids=tuple(a for a in session.agent_ids if a != agent.id))
    state = _without_agent(state, agent.id)
    return attrs.evolve(state, sessions=_put(state.sessions, session.id, session))


@_apply.register
def _(event: TurnStarted, state: State) -> State:
    turn = event.turn
    conversation = state.conversations[turn.conversation_id]
    conversation = attrs.evolve(conversation, turn_ids=(*conversation.turn_ids, turn.id))
    agent = attrs.evolve(state.agents[turn.agent_id], running_turn_id=turn.id)
    return attrs.evolve(
        state,
        turns=_put(state.turns, turn.id, turn),
        conversations=_put(state.conversations, conversation.id, conversation),
        agents=_put(state.agents, agent.id, agent),
    )


@_apply.register
def _(event: TurnProcessRecorded, state: State) -> State:
    turn = attrs.evolve(state.turns[event.turn_id], process=event.process)
    return attrs.evolve(state, turns=_put(state.turns, turn.id, turn))


@_apply.register
def _(event: TurnEnded, state: State) -> State:
    outcome = event.outcome
    turn = attrs.evolve(
        state.turns[event.turn_id],
        status=outcome.status,
        finished_at=event.finished_at,
        reply=outcome.reply,
        error_code=outcome.error_code,
        error=outcome.error,
        cost_usd=outcome.cost_usd,
        duration_ms=outcome.duration_ms,
        num_turns=outcome.num_turns,
        usage=outcome.usage,
        permission_denials=outcome.permission_denials,
    )
    agent = state.agents[turn.agent_id]
    totals = Totals(
        turns=agent.totals.turns + 1,
        cost_usd=agent.totals.cost_usd + outcome.cost_usd,
        usage=agent.totals.usage + outcome.usage,
    )
    agent = attrs.evolve(agent, running_turn_id=None, last_turn_id=turn.id, totals=totals)
    conversation = state.conversations[turn.conversation_id]
    if outcome.status is TurnStatus.COMPLETED and outcome.claude_session_id is not None:
        # The next turn resumes from the id of the latest result: some CLI
        # versions answer a resume under a new id.
        conversation = attrs.evolve(conversation, claude_session_id=outcome.claude_session_id)
    return attrs.evolve(
        state,
        turns=_put(state.turns, turn.id, turn),
        agents=_put(state.agents, agent.id, agent),
        conversations=_put(state.conversations, conversation.id, conversation),
    )


@_apply.register
def _(event: ConversationCleared, state: State) -> State:
    agent = state.agents[event.agent_id]
    old = state.conversations[agent.conversation_id]
    last = None if agent.last_turn_id in old.turn_ids else agent.last_turn_id
    agent = attrs.evolve(agent, conversation_id=event.conversation.id, last_turn_id=last)
    conversations = _drop(state.conversations, [old.id])
    return attrs.evolve(
        state,
        agents=_put(state.agents, agent.id, agent),
        conversations=_put(conversations, event.conversation.id, event.conversation),
        turns=_drop(state.turns, old.turn_ids),
    )


@_apply.register
def _(event: ConversationArchived, state: State) -> State:
    agent = state.agents[event.agent_id]
    old = attrs.evolve(
        state.conversations[agent.conversation_id],
        status=ConversationStatus.ARCHIVED,
        archived_at=event.archived_at,
    )
    agent = attrs.evolve(
        agent,
        conversation_id=event.conversation.id,
        archived_conversation_ids=(*agent.archived_conversation_ids, old.id),
    )
    conversations = _put(state.conversations, old.id, old)
    return attrs.evolve(
        state,
        agents=_put(state.agents, agent.id, agent),
        conversations=_put(conversations, event.conversation.id, event.conversation),
    )


def _without_agent(state: State, agent_id: AgentId) -> State:
    agent = state.agents[agent_id]
    conversation_ids = (agent.conversation_id, *agent.archived_conversation_ids)
    turn_ids = [t for c in conversation_ids for t in state.conversations[c].turn_ids]
    return attrs.evolve(
        state,
        agents=_drop(state.agents, [agent_id]),
        conversations=_drop(state.conversations, conversation_ids),
        turns=_drop(state.turns, turn_ids),
    )
