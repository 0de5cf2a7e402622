"""Stopping with turns running: SIGTERM, stdin EOF, and a client's cancellation.

The promises, against a real ``orch serve``:

* SIGTERM, or stdin EOF (Claude Desktop quitting), with three turns running (one
  ignores SIGTERM, two sends are still waiting for their reply): every turn is
  stopped within the grace period, recorded ``cancelled`` as the server's doing,
  the audit chain ends with ``server.stop`` and a checkpoint sealing it, no agent
  process is left, and the exit code is 0.
* A client that cancels a waiting send (MCP ``notifications/cancelled``) stops
  that turn: no answer goes out for it, its whole process group is gone, the agent
  is idle, the audit log says the call was cancelled, and the agent works again.
"""

from __future__ import annotations

import re
import signal
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests import audit_kit
from tests.faults.kit import (
    Server,
    fault_world,
    no_agent_processes,
    started,
    store_is_intact,
    tool_call,
    turn_rows,
    wait_idle,
)
from tests.harness import World, read_pid, wait_gone

GRACE = 2.0  # kill_grace_seconds in the fault worlds
SHUTDOWN_TEXT = "cancelled: the orch server shut down while this turn ran"


def three_running_turns(server: Server, world: World) -> list[int]:
    """Three agents with a turn each that never ends by itself: the first ignores
    SIGTERM and returned ``running``; the other two are sends still waiting (request
    ids 901 and 902). The pids of their processes (grandchildren included)."""
    session = server.call("create_session", name="busy", root_path=str(world.project))
    agents = [
        server.call("create_agent", session_id=session["session_id"], name=f"a{n}")["agent_id"]
        for n in range(3)
    ]
    pids: list[int] = []
    stubborn = "#hang\n#ignore-term\n#grandchild-ignore-term\n#pidfile"
    sent = server.call(
        "send_message_to_agent", agent_id=agents[0], message=stubborn, wait_seconds=0
    )
    assert sent["status"] == "running"
    pids += [read_pid(world.fake_state / "pid"), read_pid(world.fake_state / "grandchild.pid")]
    for ident, agent in zip((901, 902), agents[1:], strict=True):
        (world.fake_state / "pid").unlink()
        arguments = {"agent_id": agent, "message": "#hang\n#pidfile", "wait_seconds": 120}
        server.send(tool_call(ident, "send_message_to_agent", arguments))
        pids.append(read_pid(world.fake_state / "pid"))
    running = server.call("list_sessions")["sessions"][0]["agents_running"]
    assert running == 3
    return pids


def assert_stopped_cleanly(world: World, pids: list[int]) -> None:
    """Every turn cancelled by the shutdown, nothing left, the chain sealed to its end."""
    assert wait_gone(pids, timeout=0.5) == []
    assert no_agent_processes(world, timeout=0.5) == []
    assert sorted(turn_rows(world).values()) == ["cancelled"] * 3
    last = audit_kit.records(world)[-1]
    assert last["kind"] == "server.stop"
    code, output = audit_kit.verify(world)
    assert code == 0, output
    sealed = re.search(r"(\d+) records; sealed up to seq (\d+).*?(\d+) unsealed", output)
    assert sealed is not None, output
    assert sealed.group(1) == sealed.group(2) == str(last["seq"]), output
    assert sealed.group(3) == "0", output
    store_is_intact(world)


def turn_errors(world: World) -> list[str]:
    with sqlite3.connect(f"file:{world.data / 'orch.db'}?mode=ro", uri=True) as db:
        return [error for (error,) in db.execute("SELECT error FROM turns ORDER BY seq")]


@pytest.mark.timeout(90)
def test_sigterm_with_three_turns_running_cancels_them_within_the_grace(world: World) -> None:
    server = started(world)
    try:
        pids = three_running_turns(server, world)
        signalled = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(30) == 0
        took = time.monotonic() - signalled
    finally:
        server.kill()
    assert_stopped_cleanly(world, pids)
    assert turn_errors(world) == [SHUTDOWN_TEXT] * 3
    assert "signal received: shutting down" in server.log
    # One turn ignores SIGTERM: it is killed when the grace runs out, not later.
    assert GRACE <= took < GRACE + 5.0, took


@pytest.mark.timeout(90)
def test_stdin_eof_with_three_turns_running_is_a_clean_shutdown(world: World) -> None:
    server = started(world)
    try:
        pids = three_running_turns(server, world)
        closed = time.monotonic()
        assert server.close(30) == 0
        took = time.monotonic() - closed
    finally:
        server.kill()
    assert_stopped_cleanly(world, pids)
    assert turn_errors(world) == [SHUTDOWN_TEXT] * 3
    assert "stdin closed: shutting down" in server.log
    # Answers to requests already read get up to 2 s to go out, then the grace.
    assert took < 2.0 + GRACE + 5.0, took


def messages_until(server: Server, ident: int) -> list[dict[str, Any]]:
    """Every message the server writes up to and including the answer to ``ident``."""
    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + 30
    while not messages or messages[-1].get("id") != ident:
        messages.append(server._read_message(deadline - time.monotonic()))
    return messages


def cancel(server: Server, ident: int) -> None:
    params = {"requestId": ident, "reason": "the user pressed stop"}
    server.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": params})


@pytest.mark.timeout(90)
@pytest.mark.parametrize("tool", ["send_message_to_agent", "start_new_agent_conversation"])
def test_a_client_cancelling_a_waiting_call_stops_its_turn(world: World, tool: str) -> None:
    server = started(world)
    try:
        session = server.call("create_session", name="s", root_path=str(world.project))
        agent = server.call("create_agent", session_id=session["session_id"], name="worker")
        agent_id = agent["agent_id"]
        message = "#hang\n#grandchild\n#pidfile"
        if tool == "send_message_to_agent":
            arguments = {"agent_id": agent_id, "message": message, "wait_seconds": 120}
        else:
            arguments = {"agent_id": agent_id, "initial_message": message, "wait_seconds": 120}
        request = {"name": tool, "arguments": arguments}
        server.send({"jsonrpc": "2.0", "id": 77, "method": "tools/call", "params": request})
        pids = [read_pid(world.fake_state / "pid"), read_pid(world.fake_state / "grandchild.pid")]
        cancel(server, 77)
        assert wait_gone(pids, timeout=GRACE + 5) == []
        # The cancelled request gets no answer: nothing for 77 comes before the next one's.
        server.send({"jsonrpc": "2.0", "id": 78, "method": "ping"})
        assert [m.get("id") for m in messages_until(server, 78) if "id" in m] == [78]
        worker = wait_idle(server, session["session_id"], within=5.0)
        assert worker["current_turn"] is None
        last = worker["last_reply"]
        assert last["status"] == "cancelled"
        assert "the client cancelled the request" in last["error"]
        again = server.call("send_message_to_agent", agent_id=agent_id, message="back")
        assert again["status"] == "completed"
        assert server.close() == 0
    finally:
        server.kill()
    cancelled = [r["body"] for r in audit_kit.records(world, "tool.cancelled")]
    assert [(b["tool"], b["code"]) for b in cancelled] == [(tool, "CANCELLED")]
    assert no_agent_processes(world, timeout=0.5) == []
    store_is_intact(world)


@pytest.mark.timeout(120)
def test_sigterm_while_requests_pour_in_is_still_a_clean_exit(tmp_path: Path) -> None:
    """A message on its way into the session as it closes must not turn the
    shutdown into a crash (it did: exit 1, an ExceptionGroup of BrokenResourceError,
    in most of these trials)."""
    codes = []
    for trial in range(10):
        world = fault_world(tmp_path / str(trial))
        server = started(world)
        pouring = threading.Thread(target=pour, args=(server,), daemon=True)
        try:
            pouring.start()
            time.sleep(0.05 + trial * 0.03)
            server.process.send_signal(signal.SIGTERM)
            codes.append(server.process.wait(30))
            pouring.join(10)
            assert "signal received: shutting down" in server.log, server.log[-2000:]
        finally:
            server.kill()
        store_is_intact(world)
    assert codes == [0] * 10


def pour(server: Server) -> None:
    """``list_sessions`` calls every millisecond until the server stops reading."""
    for ident in range(1000, 1500):
        try:
            server.send(tool_call(ident, "list_sessions", {}))
        except (BrokenPipeError, ValueError):
            return
        time.sleep(0.001)
