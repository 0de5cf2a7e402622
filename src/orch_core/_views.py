"""What the tools return: plain, JSON-ready views built from the state.

Views are attrs values whose field names are the snake_case keys clients see;
the shell turns them into JSON with cattrs. Times are ISO 8601 UTC strings.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from attrs import frozen

from ._lifecycle import AgentState, TurnStatus


def iso(timestamp: float | None) -> str | None:
    """An epoch timestamp as ISO 8601 UTC with milliseconds.

    >>> iso(0.0)
    '1970-01-01T00:00:00.000Z'
    """
    if timestamp is None:
        return None
    moment = datetime.fromtimestamp(timestamp, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@frozen(kw_only=True)
class LiveActivity:
    """What the runtime last saw a running turn do (kept in memory, not stored)."""

    description: str
    at: float
    tool_uses: int = 0
    #: Distinct tools used so far in this turn, in first-use order.
    tools: tuple[str, ...] = ()


@frozen(kw_only=True)
class TokenTotals:
    input_tokens: int
    output_tokens: int
    cache_read_input_tokens: int
    cache_creation_input_tokens: int


@frozen(kw_only=True)
class TotalsView:
    turns: int
    cost_usd: float
    tokens: TokenTotals


@frozen(kw_only=True)
class CurrentTurnView:
    turn_id: str
    number: int
    started_at: str | None
    elapsed_seconds: float
    last_activity: str | None
    last_activity_at: str | None
    tool_uses: int


@frozen(kw_only=True)
class ReplyView:
    turn_id: str
    number: int
    status: TurnStatus
    reply: str | None
    error_code: str | None
    error: str | None
    cost_usd: float
    duration_ms: int | None
    finished_at: str | None
    permission_denials: list[str]


@frozen(kw_only=True)
class ConversationView:
    conversation_id: str
    turns: int
    created_at: str | None
    archived_at: str | None


@frozen(kw_only=True)
class AgentView:
    agent_id: str
    session_id: str
    name: str
    role: str
    model: str | None
    permission_mode: str | None
    state: AgentState
    created_at: str | None
    current_turn: CurrentTurnView | None
    last_reply: ReplyView | None
    conversation: ConversationView
    archived_conversations: list[ConversationView]
    totals: TotalsView


@frozen(kw_only=True)
class SessionView:
    session_id: str
    name: str
    root_path: str
    description: str
    created_at: str | None
    agents: list[AgentView]
    totals: TotalsView


@frozen(kw_only=True)
class AgentBrief:
    """An agent in one line: enough to pick it from a list."""

    agent_id: str
    name: str
    state: AgentState


@frozen(kw_only=True)
class SessionSummary:
    session_id: str
    name: str
    root_path: str
    description: str
    created_at: str | None
    agent_count: int
    agents_running: int
    agents: list[AgentBrief]


@frozen(kw_only=True)
class TranscriptTurn:
    turn_id: str
    number: int
    message: str
    status: TurnStatus
    reply: str | None
    error_code: str | None
    error: str | None
    cost_usd: float
    duration_ms: int | None
    started_at: str | None
    finished_at: str | None
    permission_denials: list[str]


@frozen(kw_only=True)
class TranscriptView:
    agent_id: str
    conversation_id: str
    status: str
    turns: list[TranscriptTurn]


@frozen(kw_only=True)
class DeletedView:
    """What a delete removed (files on disk are never touched)."""

    deleted_session_ids: list[str]
    deleted_agent_ids: list[str]
    cancelled_turn_ids: list[str]


@frozen(kw_only=True)
class TurnResult:
    """What a send returns: a finished turn's reply, or that it is still running.

    ``status`` is ``completed``, ``failed`` (any other final state; ``turn_status``
    says which, ``error_code`` is ``TURN_FAILED``/``TURN_TIMEOUT``/...) or ``running``.
    """

    status: Literal["completed", "failed", "running"]
    turn_status: TurnStatus
    agent_id: str
    turn_id: str
    conversation_id: str
    turn_number: int
    reply: str | None
    error_code: str | None
    error: str | None
    cost_usd: float | None
    duration_ms: int | None
    elapsed_seconds: float
    permission_denials: list[str]


@frozen(kw_only=True)
class ConversationChange:
    """What clearing or starting a new conversation did."""

    agent_id: str
    conversation_id: str
    previous_conversation_id: str
    previous_conversation: Literal["discarded", "archived"]
    first_turn: TurnResult | None


@frozen(kw_only=True)
class SessionList:
    """The caller's sessions (``list_sessions``)."""

    sessions: list[SessionSummary]
