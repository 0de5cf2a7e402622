"""``orch://health``: ``ok`` on a sound server, and ``degraded`` or ``failing``, naming
the check, when the store is read-only, the claude command is missing or broken,
or a turn is stuck past its timeout."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from fastmcp import Client

from orch_shell._health import stuck_limit
from orch_shell._store import Store
from tests.fake_claude import VERSION
from tests.harness import in_memory, make_world, new_agent, send, test_settings
from tests.shell.test_metrics import OPERATOR


async def read_health(client: Client[Any]) -> dict[str, Any]:
    contents = await client.read_resource("orch://health")
    return dict(json.loads(contents[0].text))  # type: ignore[union-attr]


def statuses(health: dict[str, Any]) -> dict[str, str]:
    return {name: check["status"] for name, check in health["checks"].items()}


async def test_a_sound_server_is_ok_with_every_check_named(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    async with in_memory(world, principal=OPERATOR) as (client, _):
        health = await read_health(client)
    assert health["status"] == "ok", health
    assert statuses(health) == {
        "store": "ok",
        "claude": "ok",
        "disk": "ok",
        "stuck_turns": "ok",
        "audit": "ok",
    }
    assert health["checks"]["claude"]["version"] == VERSION
    assert health["checks"]["claude"]["path"] == sys.executable
    assert health["checks"]["disk"]["free_bytes"] > 0
    assert health["version"] == "test"
    assert health["uptime_seconds"] >= 0


async def test_a_read_only_store_is_failing(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    Store.open(world.data / "orch.db").close()
    read_only = Store.open_read_only(world.data / "orch.db")
    async with in_memory(world, principal=OPERATOR, store=read_only) as (client, _):
        health = await read_health(client)
        refused = await client.call_tool(
            "create_session", {"name": "s", "root_path": str(world.project)}, raise_on_error=False
        )
    assert health["status"] == "failing", health
    assert statuses(health)["store"] == "failing"
    assert "readonly" in health["checks"]["store"]["detail"]
    assert refused.content[0].text.startswith("UNAVAILABLE: ")  # what the check foretold


async def test_a_missing_claude_command_is_failing(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    settings = test_settings(world, command=(str(tmp_path / "no" / "claude"),))
    async with in_memory(world, settings, principal=OPERATOR) as (client, _):
        health = await read_health(client)
    assert health["status"] == "failing", health
    assert statuses(health)["claude"] == "failing"
    assert "not found" in health["checks"]["claude"]["detail"]


async def test_a_claude_that_cannot_say_its_version_is_degraded(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    broken = (sys.executable, "-c", "import sys; print('no node'); sys.exit(3)")
    async with in_memory(world, test_settings(world, command=broken), principal=OPERATOR) as (
        client,
        _,
    ):
        health = await read_health(client)
    assert health["status"] == "degraded", health
    assert statuses(health)["claude"] == "degraded"
    assert "exited 3" in health["checks"]["claude"]["detail"]


async def test_a_turn_running_past_its_timeout_is_degraded(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    settings = test_settings(world)
    late = stuck_limit(settings) + 10

    def later() -> float:  # the health checks' clock, moved past the turn's timeout
        return time.time() + late

    async with in_memory(world, settings, principal=OPERATOR, health_clock=later) as (
        client,
        _,
    ):
        _, agent_id = await new_agent(client, world)
        sent = await send(client, agent_id, "#hang", wait=0)
        health = await read_health(client)
    assert health["status"] == "degraded", health
    assert statuses(health)["stuck_turns"] == "degraded"
    assert health["checks"]["stuck_turns"]["turn_ids"] == [sent["turn_id"]]
