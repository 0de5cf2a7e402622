"""The tools' logic in shell terms: gather facts, mint ids, execute, build views.

Each method takes the acting principal and returns a ``Result``; the MCP layer
only converts arguments in and views out.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from returns.result import Failure, Result, Success

from orch_core import (
    AgentId,
    AgentView,
    ClearConversation,
    ConversationChange,
    CreateAgent,
    CreateSession,
    DeleteAgent,
    DeletedView,
    DeleteSession,
    OrchError,
    PathFacts,
    Principal,
    SendMessage,
    SessionSummary,
    SessionView,
    StartNewConversation,
    TranscriptView,
    TurnId,
    TurnResult,
    agent_view,
    conversation_transcript,
    deleted_view,
    list_sessions,
    session_status,
    transcript,
)

from . import _ids
from ._orchestrator import Orchestrator
from ._waiting import Progress, wait_for_turn


def path_facts(given: str) -> PathFacts:
    """Look at the path a caller gave, following symlinks (the core decides)."""
    path = Path(given)
    try:
        resolved = path.resolve(strict=True) if path.is_absolute() else None
    except (OSError, RuntimeError, ValueError):  # missing, a symlink loop, a NUL byte
        resolved = None
    return PathFacts(
        given=given,
        is_absolute=path.is_absolute(),
        exists=resolved is not None,
        is_dir=resolved is not None and resolved.is_dir(),
        resolved=None if resolved is None else str(resolved),
    )


CANCELLED_BY_CLIENT = (
    "cancelled: the client cancelled the request waiting for this turn (or disconnected)"
)


class OrchService:
    """One method per tool."""

    def __init__(self, orchestrator: Orchestrator) -> None:
        self._orch = orchestrator

    @property
    def orchestrator(self) -> Orchestrator:
        return self._orch

    async def create_session(
        self, principal: Principal, name: str, root_path: str, description: str
    ) -> Result[SessionView, OrchError]:
        facts = await asyncio.to_thread(path_facts, root_path)
        command = CreateSession(
            principal=principal,
            name=name,
            root=facts,
            description=description,
            new_id=_ids.new_session_id(),
            now=self._orch.clock(),
        )
        applied = await self._orch.execute(command)
        return applied.bind(lambda _: self.get_session_status(principal, command.new_id))

    def get_session_status(
        self, principal: Principal, session_id: str
    ) -> Result[SessionView, OrchError]:
        return session_status(
            self._orch.state,
            principal,
            session_id,
            now=self._orch.clock(),
            live=self._orch.live.activity,
        )

    def list_sessions(self, principal: Principal) -> list[SessionSummary]:
        return list_sessions(self._orch.state, principal)

    async def delete_session(
        self, principal: Principal, session_id: str, *, force: bool
    ) -> Result[DeletedView, OrchError]:
        command = DeleteSession(principal=principal, session_id=session_id, force=force)
        return (await self._orch.execute(command)).map(lambda a: deleted_view(a.decision, a.before))

    async def create_agent(
        self,
        principal: Principal,
        *,
        session_id: str,
        name: str,
        role: str,
        model: str | None,
        permission_mode: str | None,
    ) -> Result[AgentView, OrchError]:
        command = CreateAgent(
            principal=principal,
            session_id=session_id,
            name=name,
            role=role,
            model=model,
            permission_mode=permission_mode,
            new_id=_ids.new_agent_id(),
            new_conversation_id=_ids.new_conversation_id(),
            now=self._orch.clock(),
        )
        return (await self._orch.execute(command)).map(lambda _: self._agent(command.new_id))

    async def delete_agent(
        self, principal: Principal, agent_id: str
    ) -> Result[DeletedView, OrchError]:
        command = DeleteAgent(principal=principal, agent_id=agent_id)
        return (await self._orch.execute(command)).map(lambda a: deleted_view(a.decision, a.before))

    async def send_message(
        self,
        principal: Principal,
        *,
        agent_id: str,
        message: str,
        wait_seconds: float,
        progress: Progress | None,
    ) -> Result[TurnResult, OrchError]:
        command = SendMessage(
            principal=principal,
            agent_id=agent_id,
            message=message,
            new_turn_id=_ids.new_turn_id(),
            now=self._orch.clock(),
        )
        applied = await self._orch.execute(command)
        if isinstance(applied, Failure):
            return Failure(applied.failure())
        return Success(await self._wait(command.new_turn_id, wait_seconds, progress))

    async def clear_conversation(
        self, principal: Principal, agent_id: str
    ) -> Result[ConversationChange, OrchError]:
        command = ClearConversation(
            principal=principal,
            agent_id=agent_id,
            new_conversation_id=_ids.new_conversation_id(),
            now=self._orch.clock(),
        )
        applied = await self._orch.execute(command)
        return applied.map(
            lambda a: ConversationChange(
                agent_id=agent_id,
                conversation_id=command.new_conversation_id,
                previous_conversation_id=a.before.agents[AgentId(agent_id)].conversation_id,
                previous_conversation="discarded",
                first_turn=None,
            )
        )

    async def start_new_conversation(
        self,
        principal: Principal,
        *,
        agent_id: str,
        initial_message: str | None,
        wait_seconds: float,
        progress: Progress | None,
    ) -> Result[ConversationChange, OrchError]:
        command = StartNewConversation(
            principal=principal,
            agent_id=agent_id,
            initial_message=initial_message,
            new_conversation_id=_ids.new_conversation_id(),
            new_turn_id=_ids.new_turn_id(),
            now=self._orch.clock(),
        )
        applied = await self._orch.execute(command)
        if isinstance(applied, Failure):
            return Failure(applied.failure())
        first = None
        if initial_message is not None:
            first = await self._wait(command.new_turn_id, wait_seconds, progress)
        previous = applied.unwrap().before.agents[AgentId(agent_id)].conversation_id
        return Success(
            ConversationChange(
                agent_id=agent_id,
                conversation_id=command.new_conversation_id,
                previous_conversation_id=previous,
                previous_conversation="archived",
                first_turn=first,
            )
        )

    def transcript(self, principal: Principal, agent_id: str) -> Result[TranscriptView, OrchError]:
        return transcript(self._orch.state, principal, agent_id)

    def conversation_transcript(
        self, principal: Principal, conversation_id: str
    ) -> Result[TranscriptView, OrchError]:
        return conversation_transcript(self._orch.state, principal, conversation_id)

    async def _wait(
        self, turn_id: TurnId, wait_seconds: float, progress: Progress | None
    ) -> TurnResult:
        """Wait for the turn; if the client cancels the request meanwhile (MCP
        ``notifications/cancelled``: the stop button), the turn is stopped too."""
        try:
            return await wait_for_turn(self._orch, turn_id, wait_seconds, progress)
        except asyncio.CancelledError:
            self._orch.cancel_soon(turn_id, CANCELLED_BY_CLIENT)
            raise

    def _agent(self, agent_id: AgentId) -> AgentView:
        state = self._orch.state
        return agent_view(
            state, state.agents[agent_id], now=self._orch.clock(), live=self._orch.live.activity
        )
