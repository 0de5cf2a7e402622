"""Scopes and ownership through the real MCP surface (FastMCP in-memory client).

Every tool refuses a token without its scope with ``PERMISSION_DENIED`` naming
that scope, before anything runs; a second subject cannot see, message, clear or
delete the first one's sessions and agents and gets the same ``NOT_FOUND`` as for
an id that never existed; ``orch:admin`` can.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client
from fastmcp.exceptions import ToolError
from mcp.shared.exceptions import MCPError

from orch_core import (
    ADMIN_SCOPE,
    AGENTS_MESSAGE,
    AGENTS_WRITE,
    DEFAULT_ACTION_SCOPES,
    SESSIONS_READ,
    Principal,
)
from orch_shell._server import build_server
from orch_shell._service import OrchService
from tests import audit_kit
from tests.harness import (
    ALICE,
    EXPECTED_TOOLS,
    USER_SCOPES,
    World,
    authenticate_as,
    error_text,
    in_memory,
    make_world,
    structured,
)

BOB = Principal(subject="local:bob", scopes=USER_SCOPES)
ROOT = Principal(subject="local:root", scopes={ADMIN_SCOPE})

# Arguments that would succeed for a caller with every scope: each refusal below
# is therefore the scope check, not a bad argument.
CALLS: dict[str, dict[str, Any]] = {
    "create_session": {"name": "s2", "root_path": "{project}"},
    "get_session_status": {"session_id": "{session}"},
    "list_sessions": {},
    "delete_session": {"session_id": "{session}"},
    "create_agent": {"session_id": "{session}", "name": "a2"},
    "delete_agent": {"agent_id": "{agent}"},
    "send_message_to_agent": {"agent_id": "{agent}", "message": "hi", "wait_seconds": 10},
    "clear_agent_conversation": {"agent_id": "{agent}"},
    "start_new_agent_conversation": {"agent_id": "{agent}"},
}


def test_every_tool_has_a_scope_and_a_row_here() -> None:
    assert set(CALLS) == EXPECTED_TOOLS
    assert set(DEFAULT_ACTION_SCOPES) >= EXPECTED_TOOLS


def fill(args: dict[str, Any], ids: dict[str, str]) -> dict[str, Any]:
    return {k: v.format(**ids) if isinstance(v, str) else v for k, v in args.items()}


async def seed(client: Client[Any], world: World) -> dict[str, str]:
    session = structured(
        await client.call_tool("create_session", {"name": "s", "root_path": str(world.project)})
    )
    agent = structured(
        await client.call_tool("create_agent", {"session_id": session["session_id"], "name": "a"})
    )
    return {
        "session": session["session_id"],
        "agent": agent["agent_id"],
        "project": str(world.project),
    }


async def as_principal(world: World, orchestrator: Any, principal: Principal) -> Client[Any]:
    return Client(build_server(OrchService(orchestrator), authenticate_as(world, principal)))


@pytest.mark.parametrize("tool", sorted(CALLS))
async def test_each_tool_without_its_scope_is_permission_denied(tmp_path: Path, tool: str) -> None:
    world = make_world(tmp_path)
    needed = DEFAULT_ACTION_SCOPES[tool]
    lacking = Principal(subject=ALICE.subject, scopes=USER_SCOPES - {needed})
    async with in_memory(world) as (alice, orchestrator):
        ids = await seed(alice, world)
        before = orchestrator.state
        async with await as_principal(world, orchestrator, lacking) as client:
            result = await client.call_tool(tool, fill(CALLS[tool], ids), raise_on_error=False)
            text = error_text(result)
            assert text.startswith("PERMISSION_DENIED: "), text
            assert repr(needed) in text, text
        assert orchestrator.state == before, "a refused call changed the state"
        refusal = audit_kit.decisions(world, tool)[-1]
        assert (refusal["decision"], refusal["code"]) == ("refused", "PERMISSION_DENIED")
        assert refusal["principal"]["subject"] == ALICE.subject
        # The same call with the scope goes through: the refusal was the scope.
        granted = Principal(subject=ALICE.subject, scopes={needed})
        async with await as_principal(world, orchestrator, granted) as client:
            result = await client.call_tool(tool, fill(CALLS[tool], ids), raise_on_error=False)
            assert not result.is_error, result.content


async def test_starting_a_conversation_with_a_message_also_needs_the_message_scope(
    tmp_path: Path,
) -> None:
    world = make_world(tmp_path)
    writer_only = Principal(subject=ALICE.subject, scopes={AGENTS_WRITE})
    async with in_memory(world) as (alice, orchestrator):
        ids = await seed(alice, world)
        async with await as_principal(world, orchestrator, writer_only) as client:
            args = {"agent_id": ids["agent"], "initial_message": "hello", "wait_seconds": 10}
            refused = await client.call_tool(
                "start_new_agent_conversation", args, raise_on_error=False
            )
            assert error_text(refused).startswith("PERMISSION_DENIED: "), refused
            assert repr(AGENTS_MESSAGE) in error_text(refused)
            plain = await client.call_tool(
                "start_new_agent_conversation", {"agent_id": ids["agent"]}, raise_on_error=False
            )
            assert not plain.is_error, plain.content


async def test_reading_a_transcript_needs_sessions_read(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    async with in_memory(world) as (alice, orchestrator):
        ids = await seed(alice, world)
        uri = f"orch://agents/{ids['agent']}/transcript"
        no_read = Principal(subject=ALICE.subject, scopes=USER_SCOPES - {SESSIONS_READ})
        async with await as_principal(world, orchestrator, no_read) as client:
            with pytest.raises(MCPError, match="PERMISSION_DENIED"):
                await client.read_resource(uri)
        assert (await alice.read_resource(uri))[0].text  # type: ignore[union-attr]


GHOSTS = {"session": "ses_0000000000000000", "agent": "agt_0000000000000000"}
"""Well-formed ids that name nothing."""


def unghost(text: str, ids: dict[str, str]) -> str:
    return text.replace(GHOSTS["session"], ids["session"]).replace(GHOSTS["agent"], ids["agent"])


FOREIGN_CALLS = [
    ("get_session_status", {"session_id": "{session}"}),
    ("create_agent", {"session_id": "{session}", "name": "spy"}),
    ("delete_session", {"session_id": "{session}", "force": True}),
    ("send_message_to_agent", {"agent_id": "{agent}", "message": "hi", "wait_seconds": 10}),
    ("clear_agent_conversation", {"agent_id": "{agent}"}),
    ("start_new_agent_conversation", {"agent_id": "{agent}"}),
    ("delete_agent", {"agent_id": "{agent}"}),
]


async def test_another_subject_sees_nothing_and_an_admin_sees_everything(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    async with in_memory(world) as (alice, orchestrator):
        ids = await seed(alice, world)
        before = orchestrator.state
        async with await as_principal(world, orchestrator, BOB) as bob:
            assert structured(await bob.call_tool("list_sessions", {}))["sessions"] == []
            for tool, args in FOREIGN_CALLS:
                with pytest.raises(ToolError) as refused:
                    await bob.call_tool(tool, fill(args, ids))
                text = str(refused.value)
                assert text.startswith("NOT_FOUND: "), (tool, text)
                # Word for word what an id that never existed gets: existence does not leak.
                with pytest.raises(ToolError) as missing:
                    await bob.call_tool(tool, fill(args, {**ids, **GHOSTS}))
                assert text == unghost(str(missing.value), ids)
            with pytest.raises(MCPError, match="NOT_FOUND"):
                await bob.read_resource(f"orch://agents/{ids['agent']}/transcript")
        assert orchestrator.state == before, "another subject's calls changed alice's state"
        async with await as_principal(world, orchestrator, ROOT) as root:
            status = structured(
                await root.call_tool("get_session_status", {"session_id": ids["session"]})
            )
            assert status["agents"][0]["agent_id"] == ids["agent"]
            sent = structured(
                await root.call_tool(
                    "send_message_to_agent",
                    {"agent_id": ids["agent"], "message": "from root", "wait_seconds": 10},
                )
            )
            assert sent["status"] == "completed", sent
            await root.call_tool("delete_session", {"session_id": ids["session"]})
        assert not orchestrator.state.sessions
