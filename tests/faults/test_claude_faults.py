"""Faults of the ``claude`` process itself, against a real ``orch serve``.

A CLI that hangs and ignores SIGTERM, one that floods stdout, one that forks a
grandchild ignoring SIGTERM, one that crashes mid-stream, one that prints junk.
Each time the promise is the same: the turn ends with the outcome and error a
user would expect, the agent is idle and works again, other agents are not held
up, no agent process survives, and the store is intact.

Measured on the shared 2-core VM (2026-11-25, ``pytest tests/faults/test_claude_faults.py``
with the numbers printed): ``#flood 500`` against the default 128 MiB
``claude.max_output_bytes`` ends the turn in 0.8 s (3.0 s with ``#ignore-term``: the
2 s grace), a full 500 MB read-through (cap 1 GiB) in 2.9 s; the server's RSS went
from 103.2 MiB to at most 104.1 MiB in every case. A hung CLI ignoring SIGTERM with
a 3 s timeout and 2 s grace died 5.04-5.09 s after the send.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests import fake_claude
from tests.faults.kit import (
    Server,
    agent_status,
    fault_world,
    no_agent_processes,
    store_is_intact,
    turn_rows,
    wait_idle,
)
from tests.harness import World, alive, read_pid

pytestmark = pytest.mark.timeout(120)

MiB = 1024 * 1024
TIMEOUT = 3.0  # turn_timeout_seconds where a turn must time out
GRACE = 2.0  # kill_grace_seconds of the fault kit


@contextlib.contextmanager
def serving(world: World) -> Iterator[Server]:
    """A started server; whatever happens, it is killed after."""
    server = Server(world)
    try:
        server.initialize()
        yield server
    finally:
        server.kill()  # agent processes left behind are reaped by conftest


def new_agent(server: Server, world: World, session: str) -> tuple[str, str]:
    """A session named ``session`` on the project, with one agent: their ids."""
    made = server.call("create_session", name=session, root_path=str(world.project))
    agent = server.call("create_agent", session_id=made["session_id"], name="worker")
    return str(made["session_id"]), str(agent["agent_id"])


def send(server: Server, agent_id: str, message: str, wait: float = 30) -> dict[str, Any]:
    """``send_message_to_agent``'s answer; the client waits longer than the server does."""
    arguments = {"agent_id": agent_id, "message": message, "wait_seconds": wait}
    answer = server.request(
        "tools/call", {"name": "send_message_to_agent", "arguments": arguments}, timeout=wait + 30
    )
    result = answer["result"]
    assert not result.get("isError"), result
    return dict(result["structuredContent"])


# --- 5. a hung claude that ignores SIGTERM -------------------------------------------


def death_time(pid: int, began: float, within: float) -> float:
    """Seconds from ``began`` until ``pid`` is gone (zombies count), polled every 20 ms."""
    deadline = time.monotonic() + within
    while alive(pid):
        assert time.monotonic() < deadline, f"{pid} still alive"
        time.sleep(0.02)
    return time.monotonic() - began


@pytest.mark.timeout(90)
def test_a_hung_claude_ignoring_term_is_killed_after_the_timeout_and_grace(
    tmp_path: Path,
) -> None:
    world = fault_world(tmp_path, f"turn_timeout_seconds = {TIMEOUT}\n")
    with serving(world) as server:
        session_id, agent_id = new_agent(server, world, "hung")
        assert send(server, agent_id, "warm up")["reply"] == "turn 1: warm up"

        began = time.monotonic()
        sent = send(server, agent_id, "#hang\n#ignore-term\n#pidfile\nstuck", wait=0)
        assert sent["status"] == "running"
        pid = read_pid(world.fake_state / "pid")
        # Between the timeout's SIGTERM and the SIGKILL a grace later, it is still there.
        time.sleep(max(0.0, began + TIMEOUT + GRACE / 2 - time.monotonic()))
        assert alive(pid), "SIGTERM should have been ignored"
        assert agent_status(server, session_id)["state"] == "running"
        died = death_time(pid, began, within=30)
        # Killed once the grace ran out: not before (TERM is ignored), and not seconds
        # later by some other backstop (closing the pipes also kills, after 5 s more).
        assert TIMEOUT + GRACE - 0.1 <= died < TIMEOUT + GRACE + 2.5, died

        agent = wait_idle(server, session_id, within=10)
        last = agent["last_reply"]
        assert last["turn_id"] == sent["turn_id"]
        assert (last["status"], last["error_code"]) == ("timeout", "TURN_TIMEOUT")
        assert last["error"] == "the turn timed out; its processes were stopped"
        assert last["reply"] is None
        assert agent["current_turn"] is None

        again = send(server, agent_id, "after")
        assert (again["status"], again["reply"]) == ("completed", "turn 2: after")
        assert no_agent_processes(world) == []
        assert server.close() == 0
    assert sorted(turn_rows(world).values()) == ["completed", "completed", "timeout"]
    store_is_intact(world)


# --- 6. a flood of valid lines --------------------------------------------------------


class RssSampler:
    """The resident memory of a process, sampled in a thread: the peak seen."""

    def __init__(self, pid: int) -> None:
        self._process = psutil.Process(pid)
        self.baseline = self._process.memory_info().rss
        self.peak = self.baseline
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            with contextlib.suppress(psutil.Error):
                self.peak = max(self.peak, self._process.memory_info().rss)
                self.samples += 1

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(5)


DEFAULT_CAP = 128 * MiB  # claude.max_output_bytes left at its default
RSS_GROWTH = 32 * MiB  # measured: under 1 MiB over a ~103 MiB baseline


def test_a_500_mb_flood_fails_at_the_output_cap_in_bounded_memory_while_others_work(
    tmp_path: Path,
) -> None:
    world = fault_world(tmp_path)
    with serving(world) as server:
        flood_session, flooder = new_agent(server, world, "flood")
        other_session, other = new_agent(server, world, "other")
        assert send(server, flooder, "warm up")["status"] == "completed"
        assert send(server, other, "warm up")["status"] == "completed"
        with RssSampler(server.pid) as rss:
            # It ignores SIGTERM, so it stays a grace past the cap: other work surely overlaps.
            sent = send(server, flooder, "#flood 500\n#ignore-term", wait=0)
            assert sent["status"] == "running"
            meanwhile = send(server, other, "meanwhile")
            flooding = agent_status(server, flood_session)
            agent = wait_idle(server, flood_session, within=60)
        assert (meanwhile["status"], meanwhile["reply"]) == ("completed", "turn 2: meanwhile")
        assert flooding["state"] == "running"
        assert flooding["current_turn"]["turn_id"] == sent["turn_id"]
        last = agent["last_reply"]
        assert (last["turn_id"], last["status"]) == (sent["turn_id"], "failed")
        assert last["error_code"] == "TURN_FAILED"
        assert last["error"] == f"the output exceeded {DEFAULT_CAP} bytes (claude.max_output_bytes)"
        assert last["reply"] is None
        assert rss.peak - rss.baseline < RSS_GROWTH, (rss.baseline, rss.peak)
        assert no_agent_processes(world) == []
        assert agent_status(server, other_session)["last_reply"]["reply"] == "turn 2: meanwhile"
        assert send(server, flooder, "after")["reply"] == "turn 2: after"
        assert server.close() == 0
    assert sorted(turn_rows(world).values()) == ["completed"] * 4 + ["failed"]
    store_is_intact(world)


def flood_lines(megabytes: int) -> int:
    """How many lines ``#flood MB`` prints: each is as long as this one."""
    text = "0" * 8 + "y" * 64 * 1024
    line = json.dumps(fake_claude.assistant(str(uuid.uuid4()), [{"type": "text", "text": text}]))
    return -(-megabytes * MiB // (len(line) + 1))


def test_a_500_mb_flood_under_the_cap_is_read_through_in_bounded_memory(
    tmp_path: Path,
) -> None:
    world = fault_world(tmp_path, f"max_output_bytes = {1024 * MiB}\n")
    with serving(world) as server:
        _, flooder = new_agent(server, world, "flood")
        assert send(server, flooder, "warm up")["status"] == "completed"
        with RssSampler(server.pid) as rss:
            flooded = send(server, flooder, "#flood 500")
        assert flooded["status"] == "completed"
        assert flooded["reply"] == f"{flood_lines(500):08d}" + "y" * 64 * 1024  # the last line
        assert rss.peak - rss.baseline < RSS_GROWTH, (rss.baseline, rss.peak)
        assert no_agent_processes(world) == []
        assert server.close() == 0
    store_is_intact(world)


# --- 7. a grandchild that ignores SIGTERM ----------------------------------------------


def test_a_grandchild_ignoring_term_does_not_survive_a_finished_turn(tmp_path: Path) -> None:
    world = fault_world(tmp_path)
    with serving(world) as server:
        _, agent_id = new_agent(server, world, "forks")
        done = send(server, agent_id, "#grandchild-ignore-term\n#pidfile\nhi")
        assert (done["status"], done["reply"]) == ("completed", "turn 1: hi")
        leader = read_pid(world.fake_state / "pid")
        grandchild = read_pid(world.fake_state / "grandchild.pid")
        # The reply is given once the whole group is gone, not a moment later.
        assert not alive(grandchild)
        assert not alive(leader)
        assert no_agent_processes(world, timeout=0) == []
        assert send(server, agent_id, "again")["reply"] == "turn 2: again"
        assert server.close() == 0
    assert sorted(turn_rows(world).values()) == ["completed", "completed"]
    store_is_intact(world)


@pytest.mark.parametrize("stop", ["timeout", "delete_agent"])
def test_a_grandchild_ignoring_term_does_not_survive_a_stopped_turn(
    tmp_path: Path, stop: str
) -> None:
    world = fault_world(tmp_path, f"turn_timeout_seconds = {TIMEOUT}\n")
    with serving(world) as server:
        session_id, agent_id = new_agent(server, world, "forks")
        sent = send(server, agent_id, "#grandchild-ignore-term\n#hang\n#pidfile\nhi", wait=0)
        assert sent["status"] == "running"
        leader = read_pid(world.fake_state / "pid")
        grandchild = read_pid(world.fake_state / "grandchild.pid")
        assert alive(leader) and alive(grandchild)
        if stop == "timeout":
            last = wait_idle(server, session_id, within=TIMEOUT + GRACE + 10)["last_reply"]
            assert (last["status"], last["error_code"]) == ("timeout", "TURN_TIMEOUT")
            expected = {sent["turn_id"]: "timeout"}
        else:
            deleted = server.call("delete_agent", agent_id=agent_id)
            assert deleted["cancelled_turn_ids"] == [sent["turn_id"]]
            expected = {}  # a deleted agent's turns go with it
        assert no_agent_processes(world) == []
        assert not alive(grandchild)
        assert not alive(leader)
        assert server.close() == 0
    assert turn_rows(world) == expected
    store_is_intact(world)


# --- 8. a crash mid-stream, and junk on stdout ------------------------------------------


def test_a_crash_mid_stream_fails_the_turn_with_the_exit_code(tmp_path: Path) -> None:
    world = fault_world(tmp_path)
    with serving(world) as server:
        session_id, agent_id = new_agent(server, world, "crashy")
        assert send(server, agent_id, "warm up")["reply"] == "turn 1: warm up"
        crashed = send(server, agent_id, "#crash\nboom")
        assert (crashed["status"], crashed["turn_status"]) == ("failed", "failed")
        assert crashed["error_code"] == "TURN_FAILED"
        assert crashed["error"] == "claude exited with code 3 without a result"
        assert crashed["reply"] is None
        agent = agent_status(server, session_id)
        assert agent["state"] == "idle"
        assert agent["last_reply"]["turn_id"] == crashed["turn_id"]
        assert agent["last_reply"]["error_code"] == "TURN_FAILED"
        assert send(server, agent_id, "after")["reply"] == "turn 2: after"
        assert no_agent_processes(world) == []
        assert server.close() == 0
    assert sorted(turn_rows(world).values()) == ["completed", "completed", "failed"]
    store_is_intact(world)


def test_junk_lines_on_stdout_are_skipped_and_the_reply_is_right(tmp_path: Path) -> None:
    world = fault_world(tmp_path)
    with serving(world) as server:
        session_id, agent_id = new_agent(server, world, "noisy")
        first = send(server, agent_id, "#garbage\n#tools Read\nhello through the noise")
        assert (first["status"], first["error"]) == ("completed", None)
        assert first["reply"] == "turn 1: hello through the noise"
        second = send(server, agent_id, "#garbage\nagain")
        assert (second["status"], second["reply"]) == ("completed", "turn 2: again")
        agent = agent_status(server, session_id)
        assert agent["state"] == "idle"
        assert agent["totals"]["turns"] == 2
        assert no_agent_processes(world) == []
        assert server.close() == 0
    assert sorted(turn_rows(world).values()) == ["completed", "completed"]
    store_is_intact(world)
