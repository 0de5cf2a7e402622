"""Decisions that shape the tree: sessions and agents, created and deleted."""

from __future__ import annotations

from returns.result import Failure, Result, Success

from ._access import find_agent, find_session, owned_sessions
from ._commands import CreateAgent, CreateSession, Decision, DeleteAgent, DeleteSession, StopTurn
from ._errors import ErrorCode, OrchError
from ._events import AgentCreated, AgentDeleted, SessionCreated, SessionDeleted
from ._lifecycle import ConversationStatus
from ._model import Agent, Conversation, Session, State
from ._rules import (
    Policy,
    agent_name,
    all_ok,
    choice,
    model_name,
    root_path,
    session_name,
    text,
)


def create_session(state: State, cmd: CreateSession, policy: Policy) -> Result[Decision, OrchError]:
    """A new session for ``cmd.principal`` on an allowed folder, under a fresh name."""
    limits = policy.limits
    name = session_name(cmd.name, limits)
    resolved = root_path(cmd.root, policy.allowed_roots)
    description = text(
        "description", cmd.description, limits.max_description_bytes, allow_empty=True
    )
    return all_ok(name, description, resolved).bind(
        lambda _: _new_session(state, cmd, policy, name.unwrap(), resolved.unwrap())
    )


def _new_session(
    state: State, cmd: CreateSession, policy: Policy, name: str, resolved: str
) -> Result[Decision, OrchError]:
    mine = owned_sessions(state, cmd.principal)
    if any(s.name == name for s in mine):
        return Failure(
            OrchError(
                code=ErrorCode.NAME_TAKEN,
                message=f"you already have a session named {name!r}; pick another name or "
                "use list_sessions to find it",
            )
        )
    limit = policy.limits.max_sessions_per_principal
    if len(mine) >= limit:
        return Failure(
            OrchError(
                code=ErrorCode.LIMIT_EXCEEDED,
                message=f"you have {len(mine)} sessions; the limit is {limit} "
                "(limits.max_sessions_per_principal); delete one first",
            )
        )
    session = Session(
        id=cmd.new_id,
        owner=cmd.principal.subject,
        name=name,
        root_path=resolved,
        description=cmd.description,
        created_at=cmd.now,
    )
    return Success(Decision(events=(SessionCreated(session=session),)))


def delete_session(state: State, cmd: DeleteSession) -> Result[Decision, OrchError]:
    """Forget a session and everything in it; ``force`` stops its running turns first."""
    return find_session(state, cmd.principal, cmd.session_id).bind(
        lambda session: _delete_session(state, session, force=cmd.force)
    )


def _delete_session(state: State, session: Session, *, force: bool) -> Result[Decision, OrchError]:
    running = [
        a.running_turn_id
        for a in (state.agents[i] for i in session.agent_ids)
        if a.running_turn_id is not None
    ]
    if running and not force:
        return Failure(
            OrchError(
                code=ErrorCode.SESSION_BUSY,
                message=f"{len(running)} turn(s) are running in session {session.id}; wait for "
                "them (get_session_status) or pass force=true to cancel them",
            )
        )
    return Success(
        Decision(
            events=(SessionDeleted(session_id=session.id),),
            effects=tuple(StopTurn(turn_id=t) for t in running),
        )
    )


def create_agent(state: State, cmd: CreateAgent, policy: Policy) -> Result[Decision, OrchError]:
    """A new agent with an empty conversation in one of the principal's sessions."""
    checks = all_ok(
        agent_name(cmd.name),
        text("role", cmd.role, policy.limits.max_role_bytes, allow_empty=True),
        model_name(cmd.model),
        choice("permission_mode", cmd.permission_mode, policy.permission_modes),
    )
    return find_session(state, cmd.principal, cmd.session_id).bind(
        lambda session: checks.bind(lambda _: _new_agent(state, session, cmd, policy))
    )


def _new_agent(
    state: State, session: Session, cmd: CreateAgent, policy: Policy
) -> Result[Decision, OrchError]:
    if any(state.agents[a].name == cmd.name for a in session.agent_ids):
        return Failure(
            OrchError(
                code=ErrorCode.NAME_TAKEN,
                message=f"session {session.id} already has an agent named {cmd.name!r}",
            )
        )
    limit = policy.limits.max_agents_per_session
    if len(session.agent_ids) >= limit:
        return Failure(
            OrchError(
                code=ErrorCode.LIMIT_EXCEEDED,
                message=f"session {session.id} has {len(session.agent_ids)} agents; the limit "
                f"is {limit} (limits.max_agents_per_session); delete one first",
            )
        )
    total = policy.limits.max_agents_total
    if len(state.agents) >= total:
        return Failure(
            OrchError(
                code=ErrorCode.LIMIT_EXCEEDED,
                message=f"this server has {len(state.agents)} agents; the limit is {total} "
                "(limits.max_agents_total); delete agents you no longer need",
            )
        )
    conversation = Conversation(
        id=cmd.new_conversation_id,
        agent_id=cmd.new_id,
        status=ConversationStatus.ACTIVE,
        created_at=cmd.now,
    )
    agent = Agent(
        id=cmd.new_id,
        session_id=session.id,
        name=cmd.name,
        role=cmd.role,
        model=cmd.model,
        permission_mode=cmd.permission_mode,
        created_at=cmd.now,
        conversation_id=conversation.id,
    )
    return Success(Decision(events=(AgentCreated(agent=agent, conversation=conversation),)))


def delete_agent(state: State, cmd: DeleteAgent) -> Result[Decision, OrchError]:
    """Forget an agent; a running turn is stopped (its whole process group) first."""
    return find_agent(state, cmd.principal, cmd.agent_id).map(
        lambda agent: Decision(
            events=(AgentDeleted(agent_id=agent.id),),
            effects=()
            if agent.running_turn_id is None
            else (StopTurn(turn_id=agent.running_turn_id),),
        )
    )
