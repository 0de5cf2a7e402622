"""A restart storm: the server is stopped by SIGTERM, stdin EOF and SIGKILL in turn
while calls keep arriving. Each next server starts and finds the state; no server,
agent or lock is left behind, and each fresh server opens as many descriptors as
the first.
"""

from __future__ import annotations

import random
import signal
import threading
import time
from typing import Any

import attrs
import psutil
import pytest

from tests import audit_kit
from tests.faults.kit import (
    SEED,
    Server,
    hanging_turn,
    lock_is_free,
    no_agent_processes,
    serve_processes,
    started,
    store_is_intact,
    tool_call,
)
from tests.harness import World, wait_gone

STOPS = ("sigterm", "eof", "sigkill")
#: How each stop ends the server, and the turn it was running.
EXIT_CODES = {"sigterm": 0, "eof": 0, "sigkill": -signal.SIGKILL}
ENDINGS = {"sigterm": "cancelled", "eof": "cancelled", "sigkill": "interrupted"}


class Pour(threading.Thread):
    """Calls arriving: pipelined ``create_session`` and ``list_sessions`` every few
    milliseconds, until told to stop or the server's stdin is closed."""

    def __init__(self, server: Server, root: str, tag: str) -> None:
        super().__init__(daemon=True)
        self.server, self.root, self.tag = server, root, tag
        self.names: set[str] = set()  # read once the thread is joined
        self.done = threading.Event()

    def run(self) -> None:
        for number in range(40):  # bounded: the sessions pile up over the cycles
            if self.done.is_set():
                return
            arguments: dict[str, Any] = {}
            if number % 4:
                arguments = {"name": f"{self.tag}-{number}", "root_path": self.root}
                self.names.add(arguments["name"])  # before sending: its answer may come
            tool = "create_session" if arguments else "list_sessions"
            try:
                self.server.send(tool_call(10_000 + number, tool, arguments))
            except (BrokenPipeError, ValueError):  # the server is gone, or we closed stdin
                return
            time.sleep(0.005)


def created_sessions(server: Server, answers: int | None) -> dict[str, str]:
    """Sessions the next ``answers`` answers created; with None, all answers until the
    server has exited and stdout is empty (not its end: a leaked child may hold it)."""
    created = {}
    read = 0
    deadline = time.monotonic() + 60
    while answers is None or read < answers:
        try:
            message = server._read_message(1 if answers is None else 30)
        except EOFError:
            assert answers is None, "the server closed stdout before it was stopped"
            break
        except TimeoutError:
            if answers is not None:
                raise
            if server.process.poll() is not None:
                break  # it has exited, and a second passed without a byte more
            assert time.monotonic() < deadline, "the server does not stop"
            continue
        read += 1
        if answers is None and "error" in message:  # the SDK's answer to calls cut short
            assert message["error"] == {"code": -32000, "message": "Connection closed"}, message
            continue
        result = message["result"]
        if result.get("isError"):  # a call that came in as the server stopped
            assert answers is None, message
            assert result["content"][0]["text"].startswith("UNAVAILABLE: "), message
        elif "session_id" in result["structuredContent"]:
            created[result["structuredContent"]["session_id"]] = result["structuredContent"]["name"]
    return created


@attrs.define
class Storm:
    """Restarts of one world, each stopped while calls arrive, and what they must keep."""

    world: World
    rng: random.Random
    sessions: dict[str, str] = attrs.Factory(dict)  # seen created
    names: set[str] = attrs.Factory(set)  # ever sent
    fds: list[int] = attrs.Factory(list)  # each server's, right after start-up
    agent_id: str = ""  # the agent whose turn hangs at every stop, in session "home"
    home: str = ""
    last_turn: str = ""
    wrong_exits: list[tuple[str, int, str]] = attrs.Factory(list)  # where, code, log tail

    def check_started(self, server: Server, previous_stop: str, where: str) -> None:
        """The server holds the lock, alone, and has everything the last ones had."""
        assert not lock_is_free(self.world), (where, "a serving server without the lock")
        assert serve_processes(self.world) == [server.pid], where
        self.fds.append(psutil.Process(server.pid).num_fds())
        listed = server.call("list_sessions")["sessions"]
        found = {s["session_id"]: s["name"] for s in listed if s["name"] != "home"}
        assert self.sessions.items() <= found.items(), (where, "a created session is lost")
        assert set(found.values()) <= self.names, (where, "a session nobody created")
        self.sessions = found  # those whose answer was lost count from now on
        assert no_agent_processes(self.world, timeout=5) == [], where
        if not self.agent_id:
            home = server.call("create_session", name="home", root_path=str(self.world.project))
            agent = server.call("create_agent", session_id=home["session_id"], name="worker")
            self.home, self.agent_id = home["session_id"], agent["agent_id"]
            return
        (view,) = server.call("get_session_status", session_id=self.home)["agents"]
        assert view["state"] == "idle", (where, view)
        last = view["last_reply"]
        assert (last["turn_id"], last["status"]) == (self.last_turn, ENDINGS[previous_stop]), where

    def stop(self, server: Server, stop: str, tag: str, where: str) -> list[int]:
        """Start a hanging turn, let calls pour in, stop the server as ``stop`` says
        while they do; the pids of the turn's processes."""
        self.last_turn, pids = hanging_turn(server, self.world, self.agent_id)
        pour = Pour(server, str(self.world.project), tag)
        pour.start()
        try:
            self.sessions |= created_sessions(server, self.rng.randint(0, 12))
            if stop == "eof":
                pour.done.set()
                pour.join()
                assert server.process.stdin is not None
                server.process.stdin.close()
            else:
                server.process.send_signal(signal.SIGTERM if stop == "sigterm" else signal.SIGKILL)
            self.sessions |= created_sessions(server, None)
            # Checked at the end, so one wrong exit code does not hide the other checks.
            if (code := server.process.wait(30)) != EXIT_CODES[stop]:
                self.wrong_exits.append((where, code, server.log[-3000:]))
        finally:
            pour.done.set()
            pour.join(10)
        self.names |= pour.names
        return pids


def restart_storm(world: World, restarts: int) -> None:
    """``restarts`` stops (SIGTERM, stdin EOF, SIGKILL in turn) while calls arrive."""
    storm = Storm(world=world, rng=random.Random(SEED))
    stop = ""
    for cycle in range(restarts + 1):
        where = f"seed {SEED}, start {cycle} after {stop or 'nothing'}"
        server = started(world)
        try:
            storm.check_started(server, stop, where)
            if cycle == restarts:
                assert server.close() == 0, where
                break
            stop = STOPS[cycle % len(STOPS)]
            pids = storm.stop(server, stop, f"c{cycle}", where)
        finally:
            server.kill()
        assert lock_is_free(world), (where, "the lock outlived its server")
        assert serve_processes(world) == [], where
        if stop == "sigkill":  # left for the next server's recovery
            assert wait_gone(pids, timeout=0.2) == pids, where
        else:
            assert wait_gone(pids, timeout=5) == [], where
    assert lock_is_free(world) and serve_processes(world) == []
    assert no_agent_processes(world, timeout=5) == []
    store_is_intact(world)
    output = audit_kit.verify(world)[1]
    assert output.endswith("; 0 unsealed at the tail"), output
    print(f"descriptors after start-up: {storm.fds}; {len(storm.sessions)} sessions")
    # A fresh server opens what the first did, however many restarts came before.
    assert set(storm.fds) == {storm.fds[0]}, storm.fds
    wrong = [(where, code) for where, code, _ in storm.wrong_exits]
    assert wrong == [], (wrong, storm.wrong_exits[0][2])


@pytest.mark.timeout(300)
def test_restart_storm(world: World) -> None:
    restart_storm(world, restarts=len(STOPS))


@pytest.mark.long
@pytest.mark.timeout(900)
def test_restart_storm_20_times(world: World) -> None:
    restart_storm(world, restarts=20)
