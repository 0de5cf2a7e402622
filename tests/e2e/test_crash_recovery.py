"""``kill -9`` of the server during a running turn, then a restart.

The promise: the turn is recorded ``interrupted``, the agent is idle again, no
fake ``claude`` (nor the grandchild it forked) survives, and every session is
intact.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.e2e.raw_client import RawServer
from tests.harness import World, make_world, read_pid, wait_gone


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


@pytest.mark.timeout(90)
def test_kill_9_during_a_turn_then_restart(world: World) -> None:
    server = RawServer(world)
    try:
        server.initialize()
        session = server.call("create_session", name="crashy", root_path=str(world.project))
        other = server.call("create_session", name="bystander", root_path=str(world.project))
        agent = server.call("create_agent", session_id=session["session_id"], name="worker")
        done = server.call("send_message_to_agent", agent_id=agent["agent_id"], message="warm up")
        assert done["reply"] == "turn 1: warm up"
        sent = server.call(
            "send_message_to_agent",
            agent_id=agent["agent_id"],
            message="#hang\n#grandchild\n#pidfile",
            wait_seconds=0,
        )
        assert sent["status"] == "running"
        fake = read_pid(world.fake_state / "pid")
        grandchild = read_pid(world.fake_state / "grandchild.pid")
        os.kill(server.pid, signal.SIGKILL)
        server.process.wait(10)
    finally:
        server.kill()

    # The turn's processes outlive the server: they have their own process group.
    assert wait_gone([fake, grandchild], timeout=0.5) == [fake, grandchild]

    restarted = RawServer(world)
    try:
        restarted.initialize()
        assert wait_gone([fake, grandchild], timeout=10) == []
        status = restarted.call("get_session_status", session_id=session["session_id"])
        (worker,) = status["agents"]
        assert worker["state"] == "idle" and worker["current_turn"] is None
        last = worker["last_reply"]
        assert last["turn_id"] == sent["turn_id"] and last["status"] == "interrupted"
        assert "stopped while this turn was running" in last["error"]
        assert worker["conversation"]["turns"] == 2
        listed = restarted.call("list_sessions")
        assert {s["session_id"] for s in listed["sessions"]} == {
            session["session_id"],
            other["session_id"],
        }
        # The agent works again, and its conversation continues where it was.
        again = restarted.call("send_message_to_agent", agent_id=agent["agent_id"], message="back")
        assert again["status"] == "completed" and again["reply"] == "turn 2: back"
        assert restarted.close() == 0
    finally:
        restarted.kill()


def hanging_turn(server: RawServer, world: World) -> tuple[str, list[int]]:
    """A session with one agent whose turn hangs with a grandchild: (session id, pids)."""
    session = server.call("create_session", name="s", root_path=str(world.project))
    agent = server.call("create_agent", session_id=session["session_id"], name="worker")
    server.call(
        "send_message_to_agent",
        agent_id=agent["agent_id"],
        message="#hang\n#grandchild\n#pidfile",
        wait_seconds=0,
    )
    pids = [read_pid(world.fake_state / "pid"), read_pid(world.fake_state / "grandchild.pid")]
    return session["session_id"], pids


@pytest.mark.timeout(60)
def test_stdin_eof_cancels_running_turns_and_exits_0(world: World) -> None:
    server = RawServer(world)
    try:
        server.initialize()
        session_id, pids = hanging_turn(server, world)
        assert server.close() == 0
        assert wait_gone(pids, timeout=1) == []
    finally:
        server.kill()
    restarted = RawServer(world)
    try:
        restarted.initialize()
        status = restarted.call("get_session_status", session_id=session_id)
        assert status["agents"][0]["last_reply"]["status"] == "cancelled"
        assert restarted.close() == 0
    finally:
        restarted.kill()


@pytest.mark.timeout(60)
def test_sigterm_cancels_running_turns_and_exits_0(world: World) -> None:
    server = RawServer(world)
    try:
        server.initialize()
        _, pids = hanging_turn(server, world)
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(20) == 0
        assert wait_gone(pids, timeout=1) == []
    finally:
        server.kill()


@pytest.mark.timeout(60)
def test_a_second_server_on_the_same_data_folder_refuses_to_start(world: World) -> None:
    """Two servers on one store would fight over it (and the second would kill the
    first one's turns at recovery): the second exits with a message instead."""
    first = RawServer(world)
    try:
        first.initialize()
        _, pids = hanging_turn(first, world)
        second = RawServer(world)
        try:
            assert second.process.wait(20) == 1
            assert second.process.stderr is not None
            message = second.process.stderr.read().decode()
            assert f"another orch server (pid {first.pid})" in message
        finally:
            second.kill()
        assert wait_gone(pids, timeout=0.2) == pids, "the first server's turn must live on"
        assert first.call("list_sessions")["sessions"][0]["agents_running"] == 1
        assert first.close() == 0
    finally:
        first.kill()
    third = RawServer(world)  # the lock went with the first server
    try:
        third.initialize()
        assert third.close() == 0
    finally:
        third.kill()
