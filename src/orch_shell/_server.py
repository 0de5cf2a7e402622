"""The MCP surface: eight tools, ``list_sessions``, transcript resources, and the
server's metrics and health (:mod:`._monitoring_edge`).

Handlers are thin and uniform: take the caller's principal, call the service,
turn the ``Result`` into JSON or a ``ToolError``. Cross-cutting work lives in
middleware: telemetry (:mod:`._telemetry_edge`), error mapping
(:mod:`._errors_edge`), the security context (:mod:`._auth_edge`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from fastmcp import Context, FastMCP
from fastmcp.exceptions import ResourceError
from fastmcp.server.auth import AuthProvider
from fastmcp.server.middleware import Middleware
from mcp.types import ToolAnnotations
from returns.result import Failure

from orch_core import (
    DEFAULT_ACTION_SCOPES,
    AgentView,
    ConversationChange,
    DeletedView,
    SessionList,
    SessionView,
    TurnResult,
)

from ._audit_calls import note_auth_failure, note_principal
from ._audit_edge import AuditTrail, admitted
from ._auth_edge import SecurityContext, current_principal
from ._credentials import Authenticate
from ._errors_edge import ErrorMapping, unwrap_or_raise
from ._health import Health
from ._monitoring_edge import add_monitoring_resources
from ._orchestrator import Orchestrator
from ._rate_limit_edge import RateLimit, RefusalDetails
from ._schemas import output_schema, to_json
from ._service import OrchService
from ._telemetry_edge import Telemetry
from ._tool_params import (
    AgentIdArg,
    AgentNameArg,
    DescriptionArg,
    ForceArg,
    InitialMessageArg,
    MessageArg,
    ModelArg,
    PermissionModeArg,
    RoleArg,
    RootPathArg,
    SessionIdArg,
    SessionNameArg,
    WaitArg,
)
from ._version import version
from ._waiting import Progress

INSTRUCTIONS = """\
orch runs a team of Claude Code agents on a project folder. Create a session on a
folder (create_session), add agents with roles (create_agent), then talk to them
(send_message_to_agent). Sends return within wait_seconds: a long turn answers
status "running" and keeps going; poll get_session_status for its reply. Agents
of one session can work in parallel. list_sessions finds sessions again later.
"""


def _hints(
    *,
    read_only: bool = False,
    destructive: bool = False,
    idempotent: bool = False,
    open_world: bool = False,
) -> ToolAnnotations:
    return ToolAnnotations(
        read_only_hint=read_only,
        destructive_hint=destructive,
        idempotent_hint=idempotent,
        open_world_hint=open_world,
    )


def _middleware(
    orchestrator: Orchestrator, authenticate: Authenticate, scopes: Mapping[str, str]
) -> list[Middleware]:
    """The middleware, outermost first.

    Telemetry gives the request id every audit record carries; the audit trail
    sees the code the client sees (after error mapping) and every refusal of the
    layers inside it; errors from the security check and rate limits are mapped.
    """
    metrics = orchestrator.metrics
    audit = orchestrator.audit
    limits = RateLimit(orchestrator.policy.limits, on_refused=metrics.rate_limited)
    if audit is None:
        security = SecurityContext(authenticate, scopes, metrics.auth_failure)
        return [RefusalDetails(), Telemetry(metrics), ErrorMapping(), security, limits]

    def auth_failure(reason: str) -> None:
        metrics.auth_failure(reason)
        note_auth_failure(reason)

    return [
        RefusalDetails(),  # outside all: adds a refusal's data once all have seen it
        Telemetry(metrics),
        AuditTrail(audit, keep_texts=orchestrator.settings.audit.keep_texts),
        ErrorMapping(),
        SecurityContext(authenticate, scopes, auth_failure, on_authenticated=note_principal),
        limits,
    ]


def build_server(
    service: OrchService,
    authenticate: Authenticate,
    *,
    scopes: Mapping[str, str] = DEFAULT_ACTION_SCOPES,
    default_wait: float = 25.0,
    auth: AuthProvider | None = None,
    health: Health | None = None,
) -> FastMCP:
    """The FastMCP server for ``service``.

    ``authenticate`` says who is calling (see ``_auth_edge``); ``scopes`` maps
    each tool to the scope it needs, and every tool must be in it. Metrics are
    the orchestrator's; ``health`` defaults to one over the same orchestrator.
    """
    orchestrator = service.orchestrator
    metrics = orchestrator.metrics
    health = health or Health(orchestrator, environ=os.environ, version=version())
    metrics.watch(
        started_at=health.started_at,
        turns_running=lambda: sum(
            1 for agent in orchestrator.state.agents.values() if agent.running_turn_id
        ),
        alive=orchestrator.live.alive,
    )
    if orchestrator.audit is not None:
        metrics.watch_audit(orchestrator.audit, orchestrator.clock)
    mcp = FastMCP(
        "orch",
        instructions=INSTRUCTIONS,
        version=version(),
        mask_error_details=True,
        # Strict: "yes" is not a boolean and "10" is not a number. A model that
        # sends the wrong type learns it from INVALID_ARGUMENT instead of having
        # its intent guessed.
        strict_input_validation=True,
        middleware=_middleware(orchestrator, authenticate, scopes),
        on_duplicate="error",
        auth=auth,  # HTTP only: the bearer-token check (stdio uses `authenticate`)
    )

    def progress_to(ctx: Context | None) -> Progress | None:
        if ctx is None:
            return None

        async def report(message: str, elapsed: float) -> None:
            await ctx.report_progress(progress=round(elapsed, 1), total=None, message=message)

        return report

    @mcp.tool(output_schema=output_schema(SessionView), annotations=_hints())
    @admitted
    async def create_session(
        name: SessionNameArg, root_path: RootPathArg, description: DescriptionArg = ""
    ) -> dict[str, Any]:
        """Create a session: a project folder on disk in which agents run.

        orch itself never changes files there; the agents do, as their permission
        mode allows."""
        result = await service.create_session(current_principal(), name, root_path, description)
        return to_json(unwrap_or_raise(result))

    @mcp.tool(output_schema=output_schema(SessionView), annotations=_hints(read_only=True))
    @admitted
    async def get_session_status(session_id: SessionIdArg) -> dict[str, Any]:
        """The session with every agent: state, current turn (elapsed, last activity),
        last reply (text, outcome, cost, duration), conversation, archived conversations,
        and totals (turns, cost, tokens)."""
        return to_json(unwrap_or_raise(service.get_session_status(current_principal(), session_id)))

    @mcp.tool(output_schema=output_schema(SessionList), annotations=_hints(read_only=True))
    @admitted
    async def list_sessions() -> dict[str, Any]:
        """Your sessions, with how many agents each has and how many are running."""
        return to_json(SessionList(sessions=service.list_sessions(current_principal())))

    @mcp.tool(
        output_schema=output_schema(DeletedView),
        annotations=_hints(destructive=True, idempotent=True),
    )
    @admitted
    async def delete_session(session_id: SessionIdArg, force: ForceArg = False) -> dict[str, Any]:
        """Delete a session with its agents and transcripts; files on disk are never
        touched. Refuses with SESSION_BUSY while a turn runs, unless force is true."""
        result = await service.delete_session(current_principal(), session_id, force=force)
        return to_json(unwrap_or_raise(result))

    @mcp.tool(output_schema=output_schema(AgentView), annotations=_hints())
    @admitted
    async def create_agent(
        session_id: SessionIdArg,
        name: AgentNameArg,
        role: RoleArg = "",
        model: ModelArg = None,
        permission_mode: PermissionModeArg = None,
    ) -> dict[str, Any]:
        """Create an agent in a session: a named Claude Code conversation with a role."""
        result = await service.create_agent(
            current_principal(),
            session_id=session_id,
            name=name,
            role=role,
            model=model,
            permission_mode=permission_mode,
        )
        return to_json(unwrap_or_raise(result))

    @mcp.tool(
        output_schema=output_schema(DeletedView),
        annotations=_hints(destructive=True, idempotent=True),
    )
    @admitted
    async def delete_agent(agent_id: AgentIdArg) -> dict[str, Any]:
        """Delete an agent; a running turn is cancelled first (its whole process group)."""
        return to_json(unwrap_or_raise(await service.delete_agent(current_principal(), agent_id)))

    @mcp.tool(output_schema=output_schema(TurnResult), annotations=_hints(open_world=True))
    @admitted
    async def send_message_to_agent(
        agent_id: AgentIdArg,
        message: MessageArg,
        wait_seconds: WaitArg = default_wait,
        ctx: Context | None = None,
    ) -> dict[str, Any]:
        """Send a message to an agent: it runs one Claude Code turn in the session's folder.

        Returns the reply if the turn finishes within wait_seconds, else status
        'running' (the reply then appears in get_session_status). Cancelling this
        request while it waits stops the turn. AGENT_BUSY if the agent is already
        running a turn."""
        result = await service.send_message(
            current_principal(),
            agent_id=agent_id,
            message=message,
            wait_seconds=wait_seconds,
            progress=progress_to(ctx),
        )
        return to_json(unwrap_or_raise(result))

    @mcp.tool(output_schema=output_schema(ConversationChange), annotations=_hints(destructive=True))
    @admitted
    async def clear_agent_conversation(agent_id: AgentIdArg) -> dict[str, Any]:
        """Wipe the agent's conversation: its transcript is discarded and the next
        message starts a fresh Claude conversation."""
        result = await service.clear_conversation(current_principal(), agent_id)
        return to_json(unwrap_or_raise(result))

    @mcp.tool(output_schema=output_schema(ConversationChange), annotations=_hints(open_world=True))
    @admitted
    async def start_new_agent_conversation(
        agent_id: AgentIdArg,
        initial_message: InitialMessageArg = None,
        wait_seconds: WaitArg = default_wait,
        ctx: Context | None = None,
    ) -> dict[str, Any]:
        """Archive the agent's current conversation (kept, its transcript readable) and
        start a fresh one, optionally running a first message in it."""
        result = await service.start_new_conversation(
            current_principal(),
            agent_id=agent_id,
            initial_message=initial_message,
            wait_seconds=wait_seconds,
            progress=progress_to(ctx),
        )
        return to_json(unwrap_or_raise(result))

    @mcp.resource("orch://agents/{agent_id}/transcript", mime_type="application/json")
    async def agent_transcript(agent_id: str) -> str:
        """The agent's current conversation: each turn's message, reply, outcome and cost."""
        found = service.transcript(current_principal(), agent_id)
        if isinstance(found, Failure):
            raise ResourceError(str(found.failure()))
        return json.dumps(to_json(found.unwrap()))

    @mcp.resource("orch://conversations/{conversation_id}/transcript", mime_type="application/json")
    async def conversation_transcript(conversation_id: str) -> str:
        """Any conversation of your agents, archived ones included."""
        found = service.conversation_transcript(current_principal(), conversation_id)
        if isinstance(found, Failure):
            raise ResourceError(str(found.failure()))
        return json.dumps(to_json(found.unwrap()))

    add_monitoring_resources(mcp, metrics, health)
    return mcp
