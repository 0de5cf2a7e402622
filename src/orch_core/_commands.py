"""Commands (what a caller asks for) and effects (what the shell must do).

Commands carry everything :func:`orch_core.decide` needs that the core may not
produce itself: the acting principal, the current time, freshly minted ids, and
facts about the file system gathered by the shell (:class:`PathFacts`).
"""

from __future__ import annotations

from attrs import frozen

from ._events import Event
from ._ids import AgentId, ConversationId, SessionId, TurnId
from ._model import Principal, ProcessInfo, TurnOutcome


@frozen(kw_only=True)
class PathFacts:
    """What the shell found at a path the caller gave (the core does no I/O).

    ``resolved`` is the path with every symlink followed, or ``None`` when it
    does not exist.
    """

    given: str
    is_absolute: bool
    exists: bool
    is_dir: bool
    resolved: str | None


@frozen(kw_only=True)
class CreateSession:
    principal: Principal
    name: str
    root: PathFacts
    description: str
    new_id: SessionId
    now: float


@frozen(kw_only=True)
class DeleteSession:
    principal: Principal
    session_id: str
    force: bool


@frozen(kw_only=True)
class CreateAgent:
    principal: Principal
    session_id: str
    name: str
    role: str
    model: str | None
    permission_mode: str | None
    new_id: AgentId
    new_conversation_id: ConversationId
    now: float


@frozen(kw_only=True)
class DeleteAgent:
    principal: Principal
    agent_id: str


@frozen(kw_only=True)
class SendMessage:
    principal: Principal
    agent_id: str
    message: str
    new_turn_id: TurnId
    now: float


@frozen(kw_only=True)
class ClearConversation:
    principal: Principal
    agent_id: str
    new_conversation_id: ConversationId
    now: float


@frozen(kw_only=True)
class StartNewConversation:
    principal: Principal
    agent_id: str
    initial_message: str | None
    new_conversation_id: ConversationId
    new_turn_id: TurnId
    now: float


@frozen(kw_only=True)
class RecordProcess:
    """The runtime started the ``claude`` process of a turn."""

    turn_id: TurnId
    process: ProcessInfo


@frozen(kw_only=True)
class EndTurn:
    """The runtime (or recovery, or shutdown) says how a running turn ended."""

    turn_id: TurnId
    now: float
    outcome: TurnOutcome


@frozen(kw_only=True)
class CancelTurn:
    """Stop a running turn and record it ``cancelled`` with ``reason`` (the client
    that sent its message cancelled the request)."""

    turn_id: TurnId
    now: float
    reason: str


Command = (
    CreateSession
    | DeleteSession
    | CreateAgent
    | DeleteAgent
    | SendMessage
    | ClearConversation
    | StartNewConversation
    | RecordProcess
    | EndTurn
    | CancelTurn
)


@frozen(kw_only=True)
class StartTurn:
    """Run one ``claude`` turn. Performed *after* the decision's events are recorded."""

    turn_id: TurnId
    agent_id: AgentId
    cwd: str
    message: str
    resume_id: str | None
    model: str | None
    permission_mode: str | None
    role: str


@frozen(kw_only=True)
class StopTurn:
    """Stop a turn's whole process group. Performed *before* the events are recorded:
    the events say the turn is gone, so its processes must be gone first."""

    turn_id: TurnId


Effect = StartTurn | StopTurn


@frozen(kw_only=True)
class Decision:
    """What a command does: facts to record, then work for the shell."""

    events: tuple[Event, ...] = ()
    effects: tuple[Effect, ...] = ()
