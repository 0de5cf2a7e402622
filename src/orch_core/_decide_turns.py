"""Decisions about conversations and turns: send, clear, start anew, and turn endings."""

from __future__ import annotations

from returns.result import Failure, Result, Success

from ._access import find_agent
from ._commands import (
    CancelTurn,
    ClearConversation,
    Decision,
    EndTurn,
    RecordProcess,
    SendMessage,
    StartNewConversation,
    StartTurn,
    StopTurn,
)
from ._errors import ErrorCode, OrchError, invalid, not_found
from ._events import (
    ConversationArchived,
    ConversationCleared,
    TurnEnded,
    TurnProcessRecorded,
    TurnStarted,
)
from ._ids import ConversationId, TurnId
from ._lifecycle import ConversationStatus, TurnStatus, can_transition
from ._model import Agent, Conversation, State, Turn, TurnOutcome
from ._rules import Policy, all_ok, text
from ._turn_caps import room_to_run


def send_message(state: State, cmd: SendMessage, policy: Policy) -> Result[Decision, OrchError]:
    """Start a turn in the agent's active conversation (resuming it when it has one)."""
    checked = text("message", cmd.message, policy.limits.max_message_bytes, allow_empty=False)
    return find_agent(state, cmd.principal, cmd.agent_id).bind(
        lambda agent: all_ok(checked, _idle(agent), _room(state, agent, policy)).map(
            lambda _: _turn(
                state,
                agent,
                conversation_id=agent.conversation_id,
                message=cmd.message,
                turn_id=cmd.new_turn_id,
                now=cmd.now,
            )
        )
    )


def clear_conversation(state: State, cmd: ClearConversation) -> Result[Decision, OrchError]:
    """Discard the active conversation and its transcript; the next turn starts afresh."""
    return find_agent(state, cmd.principal, cmd.agent_id).bind(
        lambda agent: _idle(agent).map(
            lambda _: Decision(
                events=(
                    ConversationCleared(
                        agent_id=agent.id,
                        conversation=_fresh(agent, cmd.new_conversation_id, cmd.now),
                    ),
                )
            )
        )
    )


def start_new_conversation(
    state: State, cmd: StartNewConversation, policy: Policy
) -> Result[Decision, OrchError]:
    """Archive the active conversation (kept, readable) and start a fresh one,
    optionally running its first turn."""
    checked: Result[object, OrchError] = (
        Success(None)
        if cmd.initial_message is None
        else text(
            "initial_message",
            cmd.initial_message,
            policy.limits.max_message_bytes,
            allow_empty=False,
        )
    )
    return find_agent(state, cmd.principal, cmd.agent_id).bind(
        lambda agent: all_ok(
            checked,
            _idle(agent),
            Success(None) if cmd.initial_message is None else _room(state, agent, policy),
        ).map(lambda _: _archive_and_start(state, agent, cmd))
    )


def _archive_and_start(state: State, agent: Agent, cmd: StartNewConversation) -> Decision:
    archived = ConversationArchived(
        agent_id=agent.id,
        archived_at=cmd.now,
        conversation=_fresh(agent, cmd.new_conversation_id, cmd.now),
    )
    if cmd.initial_message is None:
        return Decision(events=(archived,))
    first = _turn(
        state,
        agent,
        conversation_id=cmd.new_conversation_id,
        message=cmd.initial_message,
        turn_id=cmd.new_turn_id,
        now=cmd.now,
        number=1,
    )
    return Decision(events=(archived, *first.events), effects=first.effects)


def record_process(state: State, cmd: RecordProcess) -> Result[Decision, OrchError]:
    """Remember the process of a running turn, so a crash can find and stop it later."""
    return _running_turn(state, cmd.turn_id).map(
        lambda turn: Decision(events=(TurnProcessRecorded(turn_id=turn.id, process=cmd.process),))
    )


def end_turn(state: State, cmd: EndTurn) -> Result[Decision, OrchError]:
    """Record how a running turn ended; its agent becomes idle."""
    target = cmd.outcome.status
    return _running_turn(state, cmd.turn_id).bind(
        lambda turn: (
            Success(
                Decision(
                    events=(TurnEnded(turn_id=turn.id, finished_at=cmd.now, outcome=cmd.outcome),)
                )
            )
            if can_transition(turn.status, target)
            else Failure(invalid(f"a turn cannot go from {turn.status} to {target}"))
        )
    )


def cancel_turn(state: State, cmd: CancelTurn) -> Result[Decision, OrchError]:
    """Stop a running turn's process group, then record it ``cancelled``."""
    return _running_turn(state, cmd.turn_id).map(
        lambda turn: Decision(
            events=(
                TurnEnded(
                    turn_id=turn.id,
                    finished_at=cmd.now,
                    outcome=TurnOutcome(status=TurnStatus.CANCELLED, error=cmd.reason),
                ),
            ),
            effects=(StopTurn(turn_id=turn.id),),
        )
    )


def _running_turn(state: State, turn_id: TurnId) -> Result[Turn, OrchError]:
    turn = state.turns.get(turn_id)
    if turn is None:
        return Failure(not_found("turn", turn_id))
    if turn.status is not TurnStatus.RUNNING:
        return Failure(invalid(f"turn {turn_id} already ended ({turn.status})"))
    return Success(turn)


def _idle(agent: Agent) -> Result[None, OrchError]:
    if agent.running_turn_id is None:
        return Success(None)
    return Failure(
        OrchError(
            code=ErrorCode.AGENT_BUSY,
            message=f"agent {agent.name!r} ({agent.id}) is already running turn "
            f"{agent.running_turn_id}; wait for it (get_session_status shows its progress) "
            "or delete the agent to cancel it",
        )
    )


def _room(state: State, agent: Agent, policy: Policy) -> Result[None, OrchError]:
    """Room for one more running turn (counted for the owner of the agent's session)."""
    return room_to_run(state, state.sessions[agent.session_id].owner, policy.limits)


def _fresh(agent: Agent, conversation_id: ConversationId, now: float) -> Conversation:
    return Conversation(
        id=conversation_id, agent_id=agent.id, status=ConversationStatus.ACTIVE, created_at=now
    )


def _turn(
    state: State,
    agent: Agent,
    *,
    conversation_id: ConversationId,
    message: str,
    turn_id: TurnId,
    now: float,
    number: int | None = None,
) -> Decision:
    conversation = state.conversations.get(conversation_id)
    resume_id = None if conversation is None else conversation.claude_session_id
    if number is None:
        number = 1 if conversation is None else len(conversation.turn_ids) + 1
    turn = Turn(
        id=turn_id,
        agent_id=agent.id,
        conversation_id=conversation_id,
        number=number,
        message=message,
        status=TurnStatus.RUNNING,
        started_at=now,
    )
    start = StartTurn(
        turn_id=turn_id,
        agent_id=agent.id,
        cwd=state.sessions[agent.session_id].root_path,
        message=message,
        resume_id=resume_id,
        model=agent.model,
        permission_mode=agent.permission_mode,
        role=agent.role,
    )
    return Decision(events=(TurnStarted(turn=turn),), effects=(start,))
