"""Rows to domain values and back, for the store's four tables.

Each table has one column list (``*_COLUMNS``), one function from a value to the
parameters in that order, and one from a row in that order to a value, so the
three cannot drift apart. Times are REAL epoch seconds, enums their string
values, :class:`~orch_core.Usage` four integer columns, permission denials a
JSON array of strings, :class:`~orch_core.ProcessInfo` three nullable columns.

Loading builds every value of the state, so the row functions stay plain: one
tuple unpacking and one constructor call each (``load`` of 100,000 turns is
mostly spent here).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Final

from orch_core import (
    Agent,
    AgentId,
    Conversation,
    ConversationId,
    ConversationStatus,
    ProcessInfo,
    Session,
    Totals,
    Turn,
    TurnId,
    TurnOutcome,
    TurnStatus,
    Usage,
)

Row = tuple[Any, ...]

SESSION_COLUMNS: Final = "id, owner, name, root_path, description, created_at"
AGENT_COLUMNS: Final = (
    "id, session_id, name, role, model, permission_mode, created_at, conversation_id, "
    "running_turn_id, last_turn_id, total_turns, total_cost_usd, input_tokens, output_tokens, "
    "cache_read_input_tokens, cache_creation_input_tokens"
)
CONVERSATION_COLUMNS: Final = "id, agent_id, status, created_at, archived_at, claude_session_id"
USAGE_COLUMNS: Final = (
    "input_tokens, output_tokens, cache_read_input_tokens, cache_creation_input_tokens"
)
TURN_RESULT_COLUMNS: Final = (
    "status, finished_at, reply, error_code, error, cost_usd, duration_ms, num_turns, "
    f"{USAGE_COLUMNS}, permission_denials"
)
"""What :class:`~orch_core.TurnEnded` sets, in :func:`turn_result_params` order."""
TURN_COLUMNS: Final = (
    f"id, agent_id, conversation_id, number, message, started_at, {TURN_RESULT_COLUMNS}, "
    "pid, pgid, process_start_time"
)

_NO_USAGE: Final = Usage()
# Plain lookups: calling an enum class to find a member costs more than building a Turn.
_TURN_STATUSES: Final = {status.value: status for status in TurnStatus}
_CONVERSATION_STATUSES: Final = {status.value: status for status in ConversationStatus}
_NO_DENIALS: Final = "[]"


def placeholders(columns: str) -> str:
    """``?, ?, ...``, one per column in ``columns``.

    >>> placeholders("a, b, c")
    '?, ?, ?'
    """
    return ", ".join("?" for _ in columns.split(","))


def session_params(session: Session) -> Row:
    return (
        session.id,
        session.owner,
        session.name,
        session.root_path,
        session.description,
        session.created_at,
    )


def session_from_row(row: Row, agent_ids: Sequence[AgentId]) -> Session:
    id_, owner, name, root_path, description, created_at = row
    return Session(
        id=id_,
        owner=owner,
        name=name,
        root_path=root_path,
        description=description,
        created_at=created_at,
        agent_ids=tuple(agent_ids),
    )


def usage_params(usage: Usage) -> Row:
    return (
        usage.input_tokens,
        usage.output_tokens,
        usage.cache_read_input_tokens,
        usage.cache_creation_input_tokens,
    )


def _usage(input_: int, output: int, cache_read: int, cache_creation: int) -> Usage:
    if not (input_ or output or cache_read or cache_creation):
        return _NO_USAGE  # frozen, so one shared instance is safe, and most turns have it
    return Usage(
        input_tokens=input_,
        output_tokens=output,
        cache_read_input_tokens=cache_read,
        cache_creation_input_tokens=cache_creation,
    )


def agent_params(agent: Agent) -> Row:
    totals = agent.totals
    return (
        agent.id,
        agent.session_id,
        agent.name,
        agent.role,
        agent.model,
        agent.permission_mode,
        agent.created_at,
        agent.conversation_id,
        agent.running_turn_id,
        agent.last_turn_id,
        totals.turns,
        totals.cost_usd,
        *usage_params(totals.usage),
    )


def agent_from_row(row: Row, archived: Sequence[ConversationId]) -> Agent:
    (id_, session_id, name, role, model, mode, created_at, conversation_id, running, last,
     turns, cost, *usage) = row  # fmt: skip
    return Agent(
        id=id_,
        session_id=session_id,
        name=name,
        role=role,
        model=model,
        permission_mode=mode,
        created_at=created_at,
        conversation_id=conversation_id,
        archived_conversation_ids=tuple(archived),
        running_turn_id=running,
        last_turn_id=last,
        totals=Totals(turns=turns, cost_usd=cost, usage=_usage(*usage)),
    )


def conversation_params(conversation: Conversation) -> Row:
    return (
        conversation.id,
        conversation.agent_id,
        conversation.status.value,
        conversation.created_at,
        conversation.archived_at,
        conversation.claude_session_id,
    )


def conversation_from_row(row: Row, turn_ids: Sequence[TurnId]) -> Conversation:
    id_, agent_id, status, created_at, archived_at, claude_session_id = row
    return Conversation(
        id=id_,
        agent_id=agent_id,
        status=_CONVERSATION_STATUSES[status],
        created_at=created_at,
        archived_at=archived_at,
        claude_session_id=claude_session_id,
        turn_ids=tuple(turn_ids),
    )


def denials_text(denials: Sequence[str]) -> str:
    return json.dumps(list(denials)) if denials else _NO_DENIALS


def _denials(text: str) -> tuple[str, ...]:
    return () if text == _NO_DENIALS else tuple(json.loads(text))


def turn_result_params(result: Turn | TurnOutcome, finished_at: float | None) -> Row:
    """The columns of :data:`TURN_RESULT_COLUMNS` (shared by insert and ``TurnEnded``)."""
    return (
        result.status.value,
        finished_at,
        result.reply,
        result.error_code,
        result.error,
        result.cost_usd,
        result.duration_ms,
        result.num_turns,
        *usage_params(result.usage),
        denials_text(result.permission_denials),
    )


def process_params(process: ProcessInfo | None) -> Row:
    if process is None:
        return (None, None, None)
    return (process.pid, process.pgid, process.start_time)


def turn_params(turn: Turn) -> Row:
    return (
        turn.id,
        turn.agent_id,
        turn.conversation_id,
        turn.number,
        turn.message,
        turn.started_at,
        *turn_result_params(turn, turn.finished_at),
        *process_params(turn.process),
    )


def turn_from_row(row: Row) -> Turn:
    (id_, agent_id, conversation_id, number, message, started_at, status, finished_at, reply,
     error_code, error, cost_usd, duration_ms, num_turns, input_, output, cache_read,
     cache_creation, denials, pid, pgid, start_time) = row  # fmt: skip
    return Turn(
        id=id_,
        agent_id=agent_id,
        conversation_id=conversation_id,
        number=number,
        message=message,
        status=_TURN_STATUSES[status],
        started_at=started_at,
        finished_at=finished_at,
        reply=reply,
        error_code=error_code,
        error=error,
        cost_usd=cost_usd,
        duration_ms=duration_ms,
        num_turns=num_turns,
        usage=_usage(input_, output, cache_read, cache_creation),
        permission_denials=_denials(denials),
        process=None if pid is None else ProcessInfo(pid=pid, pgid=pgid, start_time=start_time),
    )
