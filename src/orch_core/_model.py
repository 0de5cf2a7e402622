"""The domain values: sessions, agents, conversations, turns, and the whole state.

All values are frozen; :class:`State` is replaced, never mutated, by
:func:`orch_core.evolve`. Cross references are kept both ways (a session lists
its agents, an agent names its conversations, a conversation its turns) so every
query is a lookup, and :func:`check_invariants` states what "consistent" means.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from attrs import Factory, field, frozen
from attrs.validators import and_, ge, instance_of, min_len, optional

from ._ids import AgentId, ConversationId, SessionId, TurnId
from ._lifecycle import ConversationStatus, TurnStatus

ADMIN_SCOPE: Final = "orch:admin"
"""The scope that may act on every session, whoever owns it."""


def _scope_set(scopes: Iterable[str]) -> frozenset[str]:
    return frozenset(scopes)


@frozen(kw_only=True)
class Principal:
    """Who is acting - the security context of one call, made from a verified token.

    Every core command carries one, so ownership is always checked: ``subject``
    owns what it creates. ``scopes`` say which tools it may call (see
    ``_scopes``); ``expires_at`` is the token's ``exp`` (Unix seconds).
    """

    subject: str = field(validator=and_(instance_of(str), min_len(1)))
    scopes: frozenset[str] = field(default=frozenset(), converter=_scope_set)
    client_id: str | None = None
    token_id: str | None = None
    expires_at: float | None = None

    @property
    def is_admin(self) -> bool:
        """Whether this principal holds ``orch:admin``."""
        return ADMIN_SCOPE in self.scopes


@frozen(kw_only=True)
class Usage:
    """Token counts reported by the CLI for one turn (or summed over many)."""

    input_tokens: int = field(default=0, validator=ge(0))
    output_tokens: int = field(default=0, validator=ge(0))
    cache_read_input_tokens: int = field(default=0, validator=ge(0))
    cache_creation_input_tokens: int = field(default=0, validator=ge(0))

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cache_read_input_tokens=self.cache_read_input_tokens + other.cache_read_input_tokens,
            cache_creation_input_tokens=self.cache_creation_input_tokens
            + other.cache_creation_input_tokens,
        )


@frozen(kw_only=True)
class ModelUsage:
    """One model's share of a turn, as the CLI reported it (a turn may use several)."""

    model: str = field(validator=and_(instance_of(str), min_len(1)))
    cost_usd: float = field(default=0.0, validator=ge(0.0))
    usage: Usage = Factory(Usage)


@frozen(kw_only=True)
class Totals:
    """What an agent has consumed over its life, cleared conversations included."""

    turns: int = field(default=0, validator=ge(0))
    cost_usd: float = field(default=0.0, validator=ge(0.0))
    usage: Usage = Factory(Usage)


@frozen(kw_only=True)
class Session:
    """A project folder on disk, owned by one principal, holding agents."""

    id: SessionId
    owner: str
    name: str
    root_path: str
    description: str
    created_at: float
    agent_ids: tuple[AgentId, ...] = ()


@frozen(kw_only=True)
class Agent:
    """A named Claude Code conversation with a role, inside a session."""

    id: AgentId
    session_id: SessionId
    name: str
    role: str
    model: str | None
    permission_mode: str | None
    created_at: float
    conversation_id: ConversationId
    archived_conversation_ids: tuple[ConversationId, ...] = ()
    running_turn_id: TurnId | None = None
    #: The turn that ended last (its reply is the agent's "last reply").
    last_turn_id: TurnId | None = None
    totals: Totals = Factory(Totals)


@frozen(kw_only=True)
class Conversation:
    """One Claude conversation; ``claude_session_id`` is what ``--resume`` needs."""

    id: ConversationId
    agent_id: AgentId
    status: ConversationStatus
    created_at: float
    claude_session_id: str | None = None
    archived_at: float | None = None
    turn_ids: tuple[TurnId, ...] = ()


@frozen(kw_only=True)
class ProcessInfo:
    """Enough to find a turn's process group again after a crash, and not a reused pid."""

    pid: int = field(validator=ge(1))
    pgid: int = field(validator=ge(1))
    start_time: float


@frozen(kw_only=True)
class TurnOutcome:
    """How a turn ended: what ``EndTurn`` reports and ``TurnEnded`` records."""

    status: TurnStatus
    reply: str | None = None
    error_code: str | None = None
    error: str | None = None
    cost_usd: float = field(default=0.0, validator=ge(0.0))
    duration_ms: int | None = None
    num_turns: int = 0
    usage: Usage = Factory(Usage)
    permission_denials: tuple[str, ...] = ()
    #: The conversation id the CLI's ``result`` named (the next ``--resume`` id).
    claude_session_id: str | None = None
    #: Cost and tokens per model. Carried by the event for metrics; not stored.
    models: tuple[ModelUsage, ...] = ()


@frozen(kw_only=True)
class Turn:
    """One message to an agent and what came back."""

    id: TurnId
    agent_id: AgentId
    conversation_id: ConversationId
    number: int = field(validator=ge(1))
    message: str
    status: TurnStatus
    started_at: float
    finished_at: float | None = None
    reply: str | None = None
    error_code: str | None = None
    error: str | None = None
    cost_usd: float = 0.0
    duration_ms: int | None = None
    num_turns: int = 0
    usage: Usage = Factory(Usage)
    permission_denials: tuple[str, ...] = ()
    process: ProcessInfo | None = field(default=None, validator=optional(instance_of(ProcessInfo)))


@frozen(kw_only=True)
class State:
    """Everything orch knows. Mappings are never mutated: evolve builds new ones."""

    sessions: Mapping[SessionId, Session] = Factory(dict)
    agents: Mapping[AgentId, Agent] = Factory(dict)
    conversations: Mapping[ConversationId, Conversation] = Factory(dict)
    turns: Mapping[TurnId, Turn] = Factory(dict)


def check_invariants(state: State) -> list[str]:
    """Every way ``state`` could be inconsistent, as sentences (empty when sound).

    >>> check_invariants(State())
    []
    """
    problems: list[str] = []
    names: set[tuple[str, str]] = set()
    for session in state.sessions.values():
        if (session.owner, session.name) in names:
            problems.append(f"session name {session.name!r} twice for {session.owner}")
        names.add((session.owner, session.name))
        agent_names = [state.agents[a].name for a in session.agent_ids if a in state.agents]
        if len(set(agent_names)) != len(agent_names):
            problems.append(f"duplicate agent names in {session.id}")
    for agent in state.agents.values():
        owner = state.sessions.get(agent.session_id)
        if owner is None or agent.id not in owner.agent_ids:
            problems.append(f"agent {agent.id} has no session")
        conversation = state.conversations.get(agent.conversation_id)
        if conversation is None or conversation.status is not ConversationStatus.ACTIVE:
            problems.append(f"agent {agent.id} has no active conversation")
        running = [
            t.id
            for c in (agent.conversation_id, *agent.archived_conversation_ids)
            if c in state.conversations
            for t in (state.turns[i] for i in state.conversations[c].turn_ids)
            if t.status is TurnStatus.RUNNING
        ]
        expected = [agent.running_turn_id] if agent.running_turn_id else []
        if running != expected:
            problems.append(f"agent {agent.id} running turns {running} != {expected}")
    for conversation in state.conversations.values():
        if conversation.agent_id not in state.agents:
            problems.append(f"conversation {conversation.id} has no agent")
    for turn in state.turns.values():
        conversation = state.conversations.get(turn.conversation_id)
        if conversation is None or turn.id not in conversation.turn_ids:
            problems.append(f"turn {turn.id} has no conversation")
    return problems
