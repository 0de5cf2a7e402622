"""Concurrency caps with real (fake ``claude``) processes: messages sent at once over
a cap are refused naming it, never queued, and room comes back when turns end."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import attrs
import pytest
from fastmcp import Client

from orch_core import Limits
from tests.harness import in_memory, make_world, send, structured, test_settings


async def ten_agents(client: Client[Any], project: Path) -> tuple[str, list[str]]:
    created = await client.call_tool("create_session", {"name": "s", "root_path": str(project)})
    session_id = str(structured(created)["session_id"])
    agents = []
    for number in range(10):
        made = await client.call_tool(
            "create_agent", {"session_id": session_id, "name": f"a{number}"}
        )
        agents.append(str(structured(made)["agent_id"]))
    return session_id, agents


async def all_idle(client: Client[Any], session_id: str) -> None:
    """Wait until no agent of the session runs a turn (the test's timeout bounds it)."""
    while True:
        arguments = {"session_id": session_id}
        status = structured(await client.call_tool("get_session_status", arguments))
        if all(agent["state"] == "idle" for agent in status["agents"]):
            return
        await asyncio.sleep(0.2)


@pytest.mark.timeout(90)
@pytest.mark.parametrize(
    ("total", "per_principal", "runs", "cap"),
    [(8, 10, 8, "limits.max_running_turns"), (8, 4, 4, "limits.max_running_turns_per_principal")],
)
async def test_ten_messages_at_once_run_up_to_the_cap_and_the_rest_are_refused(
    tmp_path: Path, total: int, per_principal: int, runs: int, cap: str
) -> None:
    world = make_world(tmp_path)
    limits = Limits(
        max_running_turns=total,
        max_running_turns_per_principal=per_principal,
        message_per_minute=0,  # this test is about concurrency, not rates
    )
    settings = attrs.evolve(test_settings(world), limits=limits)
    async with in_memory(world, settings) as (client, orchestrator):
        session_id, agents = await ten_agents(client, world.project)
        calls = [
            client.call_tool(
                "send_message_to_agent",
                {"agent_id": agent, "message": "work\n#sleep 2", "wait_seconds": 0},
                raise_on_error=False,
            )
            for agent in agents
        ]
        results = await asyncio.gather(*calls)
        started = [r for r in results if not r.is_error]
        refused = [r.content[0].text for r in results if r.is_error]
        assert len(started) == runs
        assert all(structured(r)["status"] == "running" for r in started)
        assert orchestrator.live.alive() == runs  # real processes, none queued
        assert len(refused) == 10 - runs
        for text in refused:
            assert text.startswith("LIMIT_EXCEEDED: ")
            assert f"{runs} turns are running" in text
            assert f"the limit is {runs} ({cap})" in text

        await all_idle(client, session_id)
        idle_agents = [a for a, r in zip(agents, results, strict=True) if r.is_error]
        for agent in idle_agents[:runs]:
            reply = await send(client, agent, "again", wait=30)
            assert reply["status"] == "completed", reply
