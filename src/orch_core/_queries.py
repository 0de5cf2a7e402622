"""Read-only questions about the state, answered as views (see :mod:`._views`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from returns.result import Result

from ._access import find_session, owned_sessions
from ._commands import Decision, StopTurn
from ._errors import OrchError
from ._events import AgentDeleted, SessionDeleted
from ._ids import TurnId
from ._lifecycle import AGENT_STATE_WHEN_TURN_RUNNING, AgentState
from ._model import Agent, Conversation, Principal, State, Totals, Turn, Usage
from ._turn_queries import reply_view
from ._views import (
    AgentBrief,
    AgentView,
    ConversationView,
    CurrentTurnView,
    DeletedView,
    LiveActivity,
    SessionSummary,
    SessionView,
    TokenTotals,
    TotalsView,
    iso,
)


def session_status(
    state: State,
    principal: Principal,
    session_id: str,
    *,
    now: float,
    live: Mapping[TurnId, LiveActivity],
) -> Result[SessionView, OrchError]:
    """The session with every agent's state, current turn, last reply and totals."""
    return find_session(state, principal, session_id).map(
        lambda session: SessionView(
            session_id=session.id,
            name=session.name,
            root_path=session.root_path,
            description=session.description,
            created_at=iso(session.created_at),
            agents=[
                agent_view(state, state.agents[a], now=now, live=live) for a in session.agent_ids
            ],
            totals=_totals(_sum(state.agents[a].totals for a in session.agent_ids)),
        )
    )


def list_sessions(state: State, principal: Principal) -> list[SessionSummary]:
    """The principal's sessions, oldest first, with their agents' names and states."""
    sessions = sorted(owned_sessions(state, principal), key=lambda s: (s.created_at, s.id))
    summaries = []
    for session in sessions:
        agents = [
            AgentBrief(
                agent_id=agent.id,
                name=agent.name,
                state=_state_of(agent),
            )
            for agent in (state.agents[a] for a in session.agent_ids)
        ]
        summaries.append(
            SessionSummary(
                session_id=session.id,
                name=session.name,
                root_path=session.root_path,
                description=session.description,
                created_at=iso(session.created_at),
                agent_count=len(agents),
                agents_running=sum(1 for a in agents if a.state is AgentState.RUNNING),
                agents=agents,
            )
        )
    return summaries


def agent_view(
    state: State, agent: Agent, *, now: float, live: Mapping[TurnId, LiveActivity]
) -> AgentView:
    """One agent as ``get_session_status`` shows it."""
    current = None
    if agent.running_turn_id is not None:
        turn = state.turns[agent.running_turn_id]
        activity = live.get(turn.id)
        current = CurrentTurnView(
            turn_id=turn.id,
            number=turn.number,
            started_at=iso(turn.started_at),
            elapsed_seconds=round(max(0.0, now - turn.started_at), 3),
            last_activity=None if activity is None else activity.description,
            last_activity_at=None if activity is None else iso(activity.at),
            tool_uses=0 if activity is None else activity.tool_uses,
        )
    last = _last_finished(state, agent)
    return AgentView(
        agent_id=agent.id,
        session_id=agent.session_id,
        name=agent.name,
        role=agent.role,
        model=agent.model,
        permission_mode=agent.permission_mode,
        state=_state_of(agent),
        created_at=iso(agent.created_at),
        current_turn=current,
        last_reply=None if last is None else reply_view(last),
        conversation=_conversation_view(state.conversations[agent.conversation_id]),
        archived_conversations=[
            _conversation_view(state.conversations[c]) for c in agent.archived_conversation_ids
        ],
        totals=_totals(agent.totals),
    )


def deleted_view(decision: Decision, state: State) -> DeletedView:
    """What a delete decision removes, for the tool's reply."""
    sessions = [e.session_id for e in decision.events if isinstance(e, SessionDeleted)]
    agents = [e.agent_id for e in decision.events if isinstance(e, AgentDeleted)]
    agents += [a for s in sessions for a in state.sessions[s].agent_ids]
    return DeletedView(
        deleted_session_ids=list(sessions),
        deleted_agent_ids=list(agents),
        cancelled_turn_ids=[e.turn_id for e in decision.effects if isinstance(e, StopTurn)],
    )


def _last_finished(state: State, agent: Agent) -> Turn | None:
    return None if agent.last_turn_id is None else state.turns.get(agent.last_turn_id)


def _conversation_view(conversation: Conversation) -> ConversationView:
    return ConversationView(
        conversation_id=conversation.id,
        turns=len(conversation.turn_ids),
        created_at=iso(conversation.created_at),
        archived_at=iso(conversation.archived_at),
    )


def _sum(all_totals: Iterable[Totals]) -> Totals:
    result = Totals()
    for t in all_totals:
        result = Totals(
            turns=result.turns + t.turns,
            cost_usd=result.cost_usd + t.cost_usd,
            usage=result.usage + t.usage,
        )
    return result


def _totals(totals: Totals) -> TotalsView:
    usage: Usage = totals.usage
    return TotalsView(
        turns=totals.turns,
        cost_usd=round(totals.cost_usd, 6),
        tokens=TokenTotals(
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_read_input_tokens=usage.cache_read_input_tokens,
            cache_creation_input_tokens=usage.cache_creation_input_tokens,
        ),
    )


def _state_of(agent: Agent) -> AgentState:
    return AGENT_STATE_WHEN_TURN_RUNNING[agent.running_turn_id is not None]
