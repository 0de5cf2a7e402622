"""Questions about turns: how one ended, and whole conversations turn by turn."""

from __future__ import annotations

from typing import Literal

import attrs
from returns.result import Failure, Result, Success

from ._access import find_agent, may_see
from ._errors import OrchError, not_found
from ._ids import ConversationId
from ._lifecycle import TurnStatus
from ._model import Conversation, Principal, State, Turn
from ._views import ReplyView, TranscriptTurn, TranscriptView, TurnResult, iso


def reply_view(turn: Turn) -> ReplyView:
    """How a turn ended (or that it has not yet)."""
    return ReplyView(
        turn_id=turn.id,
        number=turn.number,
        status=turn.status,
        reply=turn.reply,
        error_code=turn.error_code,
        error=turn.error,
        cost_usd=turn.cost_usd,
        duration_ms=turn.duration_ms,
        finished_at=iso(turn.finished_at),
        permission_denials=list(turn.permission_denials),
    )


def transcript(
    state: State, principal: Principal, agent_id: str
) -> Result[TranscriptView, OrchError]:
    """The agent's current conversation, turn by turn."""
    return find_agent(state, principal, agent_id).map(
        lambda agent: _transcript(state, state.conversations[agent.conversation_id])
    )


def conversation_transcript(
    state: State, principal: Principal, conversation_id: str
) -> Result[TranscriptView, OrchError]:
    """Any conversation of the principal's agents, archived ones included."""
    conversation = state.conversations.get(ConversationId(conversation_id))
    if conversation is None:
        return Failure(not_found("conversation", conversation_id))
    agent = state.agents[conversation.agent_id]
    if not may_see(principal, state.sessions[agent.session_id]):
        return Failure(not_found("conversation", conversation_id))
    return Success(_transcript(state, conversation))


def _transcript(state: State, conversation: Conversation) -> TranscriptView:
    return TranscriptView(
        agent_id=conversation.agent_id,
        conversation_id=conversation.id,
        status=conversation.status.value,
        turns=[_transcript_turn(state.turns[t]) for t in conversation.turn_ids],
    )


def _transcript_turn(turn: Turn) -> TranscriptTurn:
    reply = attrs.asdict(reply_view(turn), recurse=False)
    return TranscriptTurn(message=turn.message, started_at=iso(turn.started_at), **reply)


def turn_result(turn: Turn, *, now: float) -> TurnResult:
    """A turn as ``send_message_to_agent`` reports it."""
    status: Literal["completed", "failed", "running"]
    if turn.status is TurnStatus.RUNNING:
        status = "running"
    elif turn.status is TurnStatus.COMPLETED:
        status = "completed"
    else:
        status = "failed"
    end = now if turn.finished_at is None else turn.finished_at
    return TurnResult(
        status=status,
        turn_status=turn.status,
        agent_id=turn.agent_id,
        turn_id=turn.id,
        conversation_id=turn.conversation_id,
        turn_number=turn.number,
        reply=turn.reply,
        error_code=turn.error_code,
        error=turn.error,
        cost_usd=None if turn.status is TurnStatus.RUNNING else turn.cost_usd,
        duration_ms=turn.duration_ms,
        elapsed_seconds=round(max(0.0, end - turn.started_at), 3),
        permission_denials=list(turn.permission_denials),
    )
