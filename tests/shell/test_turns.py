"""Turns through the whole shell (in-memory MCP client, real store, real processes).

Each test states what a user of ``send_message_to_agent`` would notice: the status
and error code of a turn that went wrong, the process that must be gone, the
secret that must not reach an agent.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client

from orch_core import StartTurn, StreamParser
from orch_shell._turns import LiveTurns
from tests import audit_kit
from tests.harness import (
    World,
    in_memory,
    make_world,
    read_pid,
    structured,
    test_settings,
    wait_gone,
)


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


async def call(client: Client[Any], tool: str, **args: Any) -> dict[str, Any]:
    return structured(await client.call_tool(tool, args))


async def new_agents(client: Client[Any], world: World, *names: str) -> list[str]:
    session = await call(client, "create_session", name="s", root_path=str(world.project))
    return [
        (await call(client, "create_agent", session_id=session["session_id"], name=name))[
            "agent_id"
        ]
        for name in names
    ]


async def send(
    client: Client[Any], agent_id: str, message: str, wait: float = 30
) -> dict[str, Any]:
    return await call(
        client, "send_message_to_agent", agent_id=agent_id, message=message, wait_seconds=wait
    )


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("message", "error_code", "needle"),
    [
        ("#notloggedin", "TURN_FAILED", "Not logged in"),
        ("#exit 2 the disk is on fire", "TURN_FAILED", "the disk is on fire"),
        ("#crash", "TURN_FAILED", "without a result"),
        ("#longline 20000", "TURN_FAILED", "exceeded"),
    ],
)
async def test_a_failed_turn_says_why_and_frees_the_agent(
    world: World, message: str, error_code: str, needle: str
) -> None:
    settings = test_settings(world, max_line_bytes=10_000)
    async with in_memory(world, settings) as (client, _):
        (agent,) = await new_agents(client, world, "a")
        result = await send(client, agent, message)
        assert (result["status"], result["turn_status"]) == ("failed", "failed")
        assert result["error_code"] == error_code and needle in result["error"], result
        again = await send(client, agent, "still there?")
        assert again["status"] == "completed"


@pytest.mark.timeout(60)
async def test_permission_denials_are_part_of_the_reply(world: World) -> None:
    async with in_memory(world) as (client, _):
        (agent,) = await new_agents(client, world, "a")
        result = await send(client, agent, "clean up\n#deny Bash")
        assert result["status"] == "completed"
        assert any(d.startswith("Bash") for d in result["permission_denials"]), result


@pytest.mark.timeout(60)
async def test_a_turn_past_its_timeout_is_killed_even_if_it_ignores_sigterm(world: World) -> None:
    settings = test_settings(world, turn_timeout_seconds=1.0, kill_grace_seconds=1.0)
    async with in_memory(world, settings) as (client, _):
        (agent,) = await new_agents(client, world, "a")
        result = await send(client, agent, "#hang\n#ignore-term\n#pidfile", wait=20)
        assert (result["status"], result["turn_status"]) == ("failed", "timeout")
        assert result["error_code"] == "TURN_TIMEOUT"
        assert wait_gone([read_pid(world.fake_state / "pid")], timeout=2) == []


@pytest.mark.timeout(60)
async def test_a_missing_claude_command_fails_the_turn_as_unavailable(world: World) -> None:
    settings = test_settings(world, command=(str(world.root / "no-such-claude"),))
    async with in_memory(world, settings) as (client, _):
        (agent,) = await new_agents(client, world, "a")
        result = await send(client, agent, "hello")
        assert result["status"] == "failed" and result["error_code"] == "UNAVAILABLE"
        assert "not found" in result["error"] and "orch doctor" in result["error"]
        status = await call(client, "list_sessions")
        assert status["sessions"][0]["agents_running"] == 0


@pytest.mark.timeout(60)
async def test_forced_session_delete_stops_every_running_turn(world: World) -> None:
    async with in_memory(world) as (client, _):
        first, second = await new_agents(client, world, "a", "b")
        session_id = (await call(client, "list_sessions"))["sessions"][0]["session_id"]
        pids = []
        for agent in (first, second):
            (world.fake_state / "pid").unlink(missing_ok=True)
            await send(client, agent, "#hang\n#grandchild\n#pidfile", wait=0)
            pids += [
                read_pid(world.fake_state / "pid"),
                read_pid(world.fake_state / "grandchild.pid"),
            ]
        refused = await client.call_tool(
            "delete_session", {"session_id": session_id}, raise_on_error=False
        )
        assert refused.is_error and refused.content[0].text.startswith("SESSION_BUSY")
        deleted = await call(client, "delete_session", session_id=session_id, force=True)
        assert sorted(deleted["deleted_agent_ids"]) == sorted([first, second])
        assert len(deleted["cancelled_turn_ids"]) == 2
        assert wait_gone(pids, timeout=3) == []


@pytest.mark.timeout(60)
async def test_the_agent_gets_no_server_secret_and_no_message_in_argv(world: World) -> None:
    server_env = {
        "ORCH_TOKEN": "tok-s3cret",
        "ORCH_HOME": str(world.data),
        "CLAUDECODE": "1",
        "ANTHROPIC_API_KEY": "sk-ant-for-the-agent",
        "SOME_OTHER_SECRET": "nope",
    }
    async with in_memory(world, environ=server_env) as (client, _):
        (agent,) = await new_agents(client, world, "a")
        result = await send(client, agent, "the secret plan\n#dump-env\n#pidfile")
        assert result["status"] == "completed"
    pid = read_pid(world.fake_state / "pid")
    dump = json.loads((world.fake_state / f"env-{pid}.json").read_text())
    env, argv = dump["env"], dump["argv"]
    assert not [name for name in env if name.startswith("ORCH_")]
    assert "CLAUDECODE" not in env and "SOME_OTHER_SECRET" not in env
    assert env["ANTHROPIC_API_KEY"] == "sk-ant-for-the-agent"
    assert env["HOME"] == str(world.home)
    assert "tok-s3cret" not in json.dumps(dump)
    assert not any("secret plan" in arg for arg in argv)
    assert dump["message"].startswith("the secret plan")
    assert dump["cwd"] == str(world.project.resolve())


@pytest.mark.timeout(60)
async def test_turns_of_different_agents_run_in_parallel(world: World) -> None:
    async with in_memory(world) as (client, orchestrator):
        agents = await new_agents(client, world, "a", "b", "c")
        turn_ids = [(await send(client, a, "work\n#sleep 2", wait=0))["turn_id"] for a in agents]
        busy = await client.call_tool(
            "send_message_to_agent", {"agent_id": agents[0], "message": "x"}, raise_on_error=False
        )
        assert busy.is_error and busy.content[0].text.startswith("AGENT_BUSY")
        deadline = time.monotonic() + 30
        while any(orchestrator.state.agents[a].running_turn_id for a in agents):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
        turns = [orchestrator.state.turns[t] for t in turn_ids]
        assert all(t.status == "completed" for t in turns)
        # Every turn started before any finished: they overlapped.
        assert max(t.started_at for t in turns) < min(t.finished_at or 0 for t in turns)


@pytest.mark.timeout(60)
async def test_a_conversation_continues_after_a_restart(world: World) -> None:
    async with in_memory(world) as (client, _):
        (agent,) = await new_agents(client, world, "a")
        assert (await send(client, agent, "one"))["reply"] == "turn 1: one"
    async with in_memory(world) as (client, _):
        result = await send(client, agent, "two")
        assert result["reply"] == "turn 2: two" and result["turn_number"] == 2


@pytest.mark.timeout(60)
async def test_a_reply_with_a_lone_surrogate_is_stored_not_lost(world: World) -> None:
    """JSON can carry text UTF-8 cannot encode; the turn still ends and is stored."""
    async with in_memory(world) as (client, orchestrator):
        (agent,) = await new_agents(client, world, "a")
        result = await send(client, agent, "odd\n#surrogate")
        assert result["status"] == "completed" and result["reply"] == "turn 1: odd ?"
        assert orchestrator.state.agents[agent].running_turn_id is None


@pytest.mark.timeout(60)
async def test_concurrent_sends_to_one_agent_start_exactly_one_turn(world: World) -> None:
    async with in_memory(world) as (client, orchestrator):
        (agent,) = await new_agents(client, world, "a")
        results = await asyncio.gather(
            *(
                client.call_tool(
                    "send_message_to_agent",
                    {"agent_id": agent, "message": f"m{i}\n#sleep 1", "wait_seconds": 0},
                    raise_on_error=False,
                )
                for i in range(10)
            )
        )
        started = [r for r in results if not r.is_error]
        busy = [r for r in results if r.is_error]
        assert len(started) == 1
        assert all(r.content[0].text.startswith("AGENT_BUSY") for r in busy)
        turns = [t for t in orchestrator.state.turns.values() if t.agent_id == agent]
        assert len(turns) == 1


@pytest.mark.timeout(60)
async def test_a_client_that_cancels_a_waiting_send_stops_the_turn(world: World) -> None:
    """Cancelling a waiting send (the stop button: MCP ``notifications/cancelled``)
    stops the turn and its whole process group; the agent is idle and works again."""
    async with in_memory(world) as (client, orchestrator):
        (agent,) = await new_agents(client, world, "a")
        message = "long one\n#hang\n#grandchild\n#pidfile"
        waiting = asyncio.create_task(send(client, agent, message, wait=60))
        pids = [
            await asyncio.to_thread(read_pid, world.fake_state / name)
            for name in ("pid", "grandchild.pid")
        ]
        turn_id = orchestrator.state.agents[agent].running_turn_id
        assert turn_id is not None
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        deadline = time.monotonic() + 10
        while orchestrator.state.agents[agent].running_turn_id is not None:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        assert wait_gone(pids, timeout=1) == []
        turn = orchestrator.state.turns[turn_id]
        assert turn.status.value == "cancelled"
        assert turn.error is not None and "the client cancelled the request" in turn.error
        cancelled = [r["body"] for r in audit_kit.records(world, "tool.cancelled")]
        assert [(b["tool"], b["code"]) for b in cancelled] == [
            ("send_message_to_agent", "CANCELLED")
        ]
        again = await send(client, agent, "back")
        assert again["status"] == "completed"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("audited", [True, False], ids=["audit-fails-first", "no-audit-log"])
async def test_a_store_that_cannot_be_written_is_unavailable_and_changes_nothing(
    world: World, audited: bool
) -> None:
    async with in_memory(world, audited=audited) as (client, orchestrator):
        (agent,) = await new_agents(client, world, "a")
        before = orchestrator.state
        orchestrator._store.close()  # every write now fails inside the store
        for tool, args in [
            ("create_session", {"name": "t", "root_path": str(world.project)}),
            ("send_message_to_agent", {"agent_id": agent, "message": "hi"}),
            ("delete_agent", {"agent_id": agent}),
        ]:
            result = await client.call_tool(tool, args, raise_on_error=False)
            assert result.is_error and result.content[0].text.startswith("UNAVAILABLE"), tool
            assert "nothing was changed" in result.content[0].text
            assert orchestrator.state == before


@pytest.mark.timeout(60)
async def test_a_turn_whose_runtime_fails_ends_internal_and_frees_the_agent(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug while supervising a turn (here: the parser raising) must not leave the
    agent busy for ever: the turn ends ``failed`` with ``INTERNAL``."""
    feed_line = StreamParser.feed_line

    def broken(parser: StreamParser, line: bytes) -> Any:
        if b"boom" in line:
            raise RuntimeError("a parser bug")
        return feed_line(parser, line)

    monkeypatch.setattr(StreamParser, "feed_line", broken)
    async with in_memory(world) as (client, _):
        (agent,) = await new_agents(client, world, "a")
        failed = await send(client, agent, "boom\n#pidfile")
        assert (failed["status"], failed["error_code"]) == ("failed", "INTERNAL")
        assert "orch failed while running this turn" in failed["error"]
        assert wait_gone([read_pid(world.fake_state / "pid")], timeout=5) == []
        again = await send(client, agent, "fine")
        assert again["status"] == "completed"


@pytest.mark.timeout(60)
async def test_a_turn_starting_as_the_server_shuts_down_is_stopped_too(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Shutdown stops every turn, even one whose process is being spawned at that
    moment (it was missed: its handle did not exist yet when shutdown looked)."""
    launching = asyncio.Event()
    launch = LiveTurns.launch

    async def slow_launch(live: LiveTurns, effect: StartTurn) -> Any:
        launching.set()
        await asyncio.sleep(0.5)
        return await launch(live, effect)

    monkeypatch.setattr(LiveTurns, "launch", slow_launch)
    async with in_memory(world) as (client, orchestrator):
        (agent,) = await new_agents(client, world, "a")
        sending = asyncio.create_task(send(client, agent, "#hang\n#grandchild\n#pidfile", wait=0))
        await launching.wait()
        await orchestrator.shutdown()
        (turn,) = orchestrator.state.turns.values()
        assert turn.status.value == "cancelled"
        assert turn.process is not None
        assert wait_gone([turn.process.pid], timeout=1) == []
        sending.cancel()
