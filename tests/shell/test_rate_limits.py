"""Rate limits through the real MCP surface (FastMCP's in-memory client).

What a client notices: the refusal's code and text, ``retry_after_ms`` in the
text and in ``_meta``, that another principal is not affected, that waiting the
time it was told is enough, that ``0`` means unlimited, and the metric.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import attrs
import pytest
from mcp.shared.exceptions import MCPError
from returns.result import Result, Success

from orch_core import METRICS_READ, AuthFailure, Limits, Principal, Settings
from orch_shell._rate_limit_edge import META_KEY
from tests.harness import ALICE, USER_SCOPES, World, in_memory, make_world, test_settings
from tests.shell.test_metrics import read_metrics, value

BOB = Principal(subject="local:bob", scopes=USER_SCOPES)


def limited(world: World, **limits: int) -> Settings:
    return attrs.evolve(test_settings(world), limits=Limits(**limits))


class Caller:
    """Who the next call comes from (the server asks on every call)."""

    def __init__(self, principal: Principal) -> None:
        self.principal = principal

    def __call__(self) -> Result[Principal, AuthFailure]:
        return Success(self.principal)


async def status(client: Any) -> Any:
    return await client.call_tool("list_sessions", {}, raise_on_error=False)


@pytest.mark.timeout(60)
async def test_a_principal_over_its_burst_is_refused_with_when_to_retry(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    caller = Caller(Principal(subject=ALICE.subject, scopes=USER_SCOPES | {METRICS_READ}))
    settings = limited(world, read_per_minute=60, read_burst=3)
    async with in_memory(world, settings, authenticate=caller) as (client, _):
        for _ in range(3):
            assert not (await status(client)).is_error
        refused = await status(client)
        assert refused.is_error
        text = refused.content[0].text
        assert text.startswith("RATE_LIMITED: too many read calls; retry after ")
        data = refused.meta[META_KEY]
        assert data["code"] == "RATE_LIMITED"
        assert 900 <= data["retry_after_ms"] <= 1001
        assert f"retry_after_ms={data['retry_after_ms']}" in text
        assert (data["tool_class"], data["per_minute"], data["burst"]) == ("read", 60, 3)
        assert refused.structured_content is None  # the tool's output schema is for results

        # Another principal has a bucket of its own.
        caller.principal = BOB
        assert not (await status(client)).is_error

        # Waiting as told is enough (the read of the metrics takes the token).
        caller.principal = Principal(subject=ALICE.subject, scopes=USER_SCOPES | {METRICS_READ})
        await asyncio.sleep(data["retry_after_ms"] / 1000)
        found = await read_metrics(client)
    assert value(found, "orch_rate_limited_total") == 1
    assert value(found, "orch_tool_calls_total", tool="list_sessions", code="RATE_LIMITED") == 1


@pytest.mark.timeout(60)
async def test_classes_have_separate_buckets_and_a_start_with_a_message_is_a_message(
    tmp_path: Path,
) -> None:
    world = make_world(tmp_path)
    settings = limited(world, write_burst=2, write_per_minute=1, message_burst=1)
    async with in_memory(world, settings) as (client, _):
        created = await client.call_tool(
            "create_session", {"name": "s", "root_path": str(world.project)}
        )
        session_id = created.structured_content["session_id"]
        agent = await client.call_tool("create_agent", {"session_id": session_id, "name": "a"})
        agent_id = agent.structured_content["agent_id"]
        third = await client.call_tool(
            "create_agent", {"session_id": session_id, "name": "b"}, raise_on_error=False
        )
        assert third.content[0].text.startswith("RATE_LIMITED: too many write calls")
        assert not (await status(client)).is_error  # reads are not writes
        # start-new with a message draws on the message bucket, not the (empty) write one.
        first = await client.call_tool(
            "start_new_agent_conversation",
            {"agent_id": agent_id, "initial_message": "hi", "wait_seconds": 20},
        )
        assert first.structured_content["first_turn"]["status"] == "completed"
        again = await client.call_tool(
            "send_message_to_agent", {"agent_id": agent_id, "message": "hi"}, raise_on_error=False
        )
        assert again.content[0].text.startswith("RATE_LIMITED: too many message calls")


@pytest.mark.timeout(60)
async def test_a_rate_of_zero_is_unlimited(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    settings = limited(world, read_per_minute=0, read_burst=1)
    async with in_memory(world, settings) as (client, _):
        results = [await status(client) for _ in range(150)]
    assert not any(result.is_error for result in results)


@pytest.mark.timeout(60)
async def test_a_flood_of_invalid_calls_is_limited_too(tmp_path: Path) -> None:
    """The limit applies before the arguments are checked: garbage costs a token."""
    world = make_world(tmp_path)
    settings = limited(world, read_per_minute=1, read_burst=2)
    async with in_memory(world, settings) as (client, _):
        texts = [
            (await client.call_tool("get_session_status", {"session_id": 5}, raise_on_error=False))
            .content[0]
            .text
            for _ in range(3)
        ]
    assert [text.split(":")[0] for text in texts] == [
        "INVALID_ARGUMENT",
        "INVALID_ARGUMENT",
        "RATE_LIMITED",
    ]


@pytest.mark.timeout(60)
async def test_a_refused_resource_read_says_when_to_retry(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    settings = limited(world, read_per_minute=1, read_burst=1)
    async with in_memory(world, settings) as (client, _):
        assert not (await status(client)).is_error
        with pytest.raises(MCPError, match=r"RATE_LIMITED: too many read calls.*retry_after_ms="):
            await client.read_resource("orch://agents/agt_0123456789abcdef/transcript")
