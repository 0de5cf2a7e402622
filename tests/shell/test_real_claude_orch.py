"""The whole orchestrator on the real Claude Code CLI, logged out.

Where ``test_real_claude.py`` runs one turn process directly, this goes through
the tools a client calls: with an empty HOME and no ``ANTHROPIC_*`` variables the
pinned CLI (``tests/node_modules/.bin/claude``) prints ``init`` and then an
``is_error`` result "Not logged in · Please run /login" and exits 1. A user must
see that as a failed turn carrying the CLI's own words, and the agent must be
idle again, ready for the next message once they log in.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.harness import (
    World,
    in_memory,
    make_world,
    new_agent,
    send,
    structured,
    test_settings,
)
from tests.npm_bins import real_claude

pytestmark = [pytest.mark.real_claude, pytest.mark.timeout(120)]


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


async def test_a_logged_out_cli_fails_the_turn_and_leaves_the_agent_idle(world: World) -> None:
    claude = real_claude()
    assert not (world.home / ".claude").exists(), "the agent's HOME must hold no login"
    settings = test_settings(world, command=(str(claude),))
    async with in_memory(world, settings=settings) as (client, _orchestrator):
        session_id, agent_id = await new_agent(client, world, session="real", agent="solo")
        sent = await send(client, agent_id, "Say hello.", wait=60)
        assert sent["status"] == "failed", sent
        assert sent["error_code"] == "TURN_FAILED", sent
        assert "Not logged in" in (sent["error"] or ""), sent
        assert sent["reply"] is None, sent

        status = structured(
            await client.call_tool("get_session_status", {"session_id": session_id})
        )
    (seen,) = status["agents"]
    assert seen["agent_id"] == agent_id
    assert seen["state"] == "idle"
    assert seen["current_turn"] is None
    last = seen["last_reply"]
    assert last["turn_id"] == sent["turn_id"]
    assert last["status"] == "failed"
    assert last["error_code"] == "TURN_FAILED"
    assert "Not logged in" in last["error"]
