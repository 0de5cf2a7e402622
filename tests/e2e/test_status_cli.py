"""``orch status`` as a user runs it: next to a serving ``orch serve``, and after it.

It shows the sessions, agents, their turns and cost, the running turn and the
health checks; it reads the database without writing to it or taking the lock
(the server goes on serving), and says whether a server is running.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from tests.harness import ORCH_BIN, World, make_world


def orch_status(world: World) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ORCH_BIN), "status"],
        env=world.server_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.timeout(90)
async def test_status_next_to_a_running_server_and_after_it(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    params = StdioServerParameters(command=str(ORCH_BIN), args=["serve"], env=world.server_env())
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()

        async def call(tool: str, **args: object) -> dict[str, object]:
            result = await session.call_tool(tool, args)
            assert not result.is_error, result.content
            return dict(result.structured_content or {})

        created = await call("create_session", name="webapp", root_path=str(world.project))
        sid = created["session_id"]
        writer = await call("create_agent", session_id=sid, name="writer")
        critic = await call("create_agent", session_id=sid, name="critic", role="review")
        await call("create_session", name="docs", root_path=str(world.project))
        for message in ("draft the README", "and the changelog"):
            done = await call("send_message_to_agent", agent_id=critic["agent_id"], message=message)
            assert done["status"] == "completed"
        running = await call(
            "send_message_to_agent", agent_id=writer["agent_id"], message="#hang", wait_seconds=0
        )
        assert running["status"] == "running"
        lock = world.data / "orch.lock"
        before = digest(lock)
        shown = orch_status(world)
        assert digest(lock) == before, "status must not take the lock"
        still = await call("list_sessions")  # the server goes on serving
        assert len(still["sessions"]) == 2  # type: ignore[arg-type]
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    assert "server running (pid " in out
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("SESSION"))
    assert header.split() == ["SESSION", "AGENT", "STATE", "TURNS", "COST", "USD", "TOKENS",
                              "IN/OUT", "NOW"]  # fmt: skip
    row = {line.split()[1]: line.split() for line in lines if line.startswith("webapp")}
    assert row["writer"][2:4] == ["running", "0"]
    assert "turn 1, running" in next(line for line in lines if " writer " in line)
    assert row["critic"][2:6] == ["idle", "2", "0.0250", "200/40"]
    assert any(line.split()[:2] == ["docs", "-"] for line in lines)
    assert next(line for line in lines if line.startswith("TOTAL")).split() == [
        "TOTAL", "2", "0.0250", "200/40",
    ]  # fmt: skip
    assert "Health: ok" in out
    for check in ("store:", "claude:", "disk:", "stuck_turns:", "audit:"):
        assert check in out, check

    after = orch_status(world)
    assert after.returncode == 0, after.stderr
    assert "no server running" in after.stdout
    assert "last turn cancelled" in after.stdout  # shutdown cancelled the running turn


def test_status_of_an_empty_data_folder(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    shown = orch_status(world)
    assert shown.returncode == 0, shown.stderr
    assert "no server running" in shown.stdout
    assert "No database yet" in shown.stdout
    assert not (world.data / "orch.db").exists()
