"""Finding things on behalf of a principal.

Ownership is enforced here, once: a session belongs to the subject that created
it, and anyone else gets the same ``NOT_FOUND`` as for an id that never existed
(so existence does not leak), unless they are an admin.
"""

from __future__ import annotations

from returns.result import Failure, Result, Success

from ._errors import OrchError, not_found
from ._ids import AgentId, SessionId
from ._model import Agent, Principal, Session, State


def may_see(principal: Principal, session: Session) -> bool:
    """Whether ``principal`` may see and act on ``session``."""
    return principal.is_admin or session.owner == principal.subject


def find_session(state: State, principal: Principal, session_id: str) -> Result[Session, OrchError]:
    """The session with this id, if it exists and ``principal`` may see it."""
    session = state.sessions.get(SessionId(session_id))
    if session is None or not may_see(principal, session):
        return Failure(not_found("session", session_id))
    return Success(session)


def find_agent(state: State, principal: Principal, agent_id: str) -> Result[Agent, OrchError]:
    """The agent with this id, if it exists and ``principal`` may see its session."""
    agent = state.agents.get(AgentId(agent_id))
    if agent is None or not may_see(principal, state.sessions[agent.session_id]):
        return Failure(not_found("agent", agent_id))
    return Success(agent)


def owned_sessions(state: State, principal: Principal) -> list[Session]:
    """The sessions ``principal`` owns (admins: only their own here, too - listing
    everyone's sessions is a separate, explicit query)."""
    return [s for s in state.sessions.values() if s.owner == principal.subject]
