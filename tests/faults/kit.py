"""Shared pieces of the fault-injection suite: a real ``orch serve`` whose stderr is
drained, and the checks every fault ends with.

Each fault test runs the real server (``orch serve`` over stdio, the fake
``claude`` as its agents) in a world of its own, injects one fault, then checks
the promise: nothing the client saw succeed is lost, no agent process is left
running, the store is intact and the audit chain verifies.
"""

from __future__ import annotations

import fcntl
import os
import signal
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from tests import audit_kit
from tests.e2e.raw_client import RawServer
from tests.harness import FAKE_CLAUDE, World, make_world, read_pid

#: Seeds the random workloads (kill points, stops); named in every failure.
SEED = int(os.environ.get("ORCH_FAULT_SEED", "1729"))

#: Limits out of the way (floods of calls are part of the faults), a short grace.
SETTINGS = """\
[limits]
read_per_minute = 0
write_per_minute = 0
message_per_minute = 0
max_sessions_per_principal = 1000

[claude]
kill_grace_seconds = 2
"""


def fault_world(tmp_path: Path, extra: str = "") -> World:
    """A world whose ``orch.toml`` is :data:`SETTINGS` plus ``extra`` (more TOML)."""
    world = make_world(tmp_path)
    (world.data / "orch.toml").write_text(SETTINGS + extra)
    return world


class Server(RawServer):
    """``orch serve`` with its stderr read as it comes (a full pipe would block it)."""

    def __init__(self, world: World, **env: str) -> None:
        super().__init__(world, **env)
        self.stderr: list[bytes] = []
        stream = self.process.stderr
        assert stream is not None
        self._drain = threading.Thread(
            target=lambda: self.stderr.extend(iter(stream.readline, b"")), daemon=True
        )
        self._drain.start()

    @property
    def log(self) -> str:
        """What the server wrote to stderr so far."""
        return b"".join(self.stderr).decode("utf-8", "replace")

    def error(self, tool: str, **arguments: Any) -> str:
        """The text of a tool error (fails the test if the call succeeds)."""
        answer = self.request("tools/call", {"name": tool, "arguments": arguments})
        result = answer["result"]
        assert result.get("isError"), result
        return str(result["content"][0]["text"])

    def kill(self) -> None:
        super().kill()
        self._drain.join(5)


def started(world: World, **env: str) -> Server:
    """A server that has answered ``initialize``."""
    server = Server(world, **env)
    server.initialize()
    return server


def agent_processes(world: World) -> list[psutil.Process]:
    """Live fake ``claude`` processes of this world (grandchildren included:
    they are forks of it), zombies excluded."""
    return [p for p in _live() if _agent_under(p.info, world.root)]


def serve_processes(world: World) -> list[int]:
    """Live ``orch serve`` processes of this world."""
    return [p.pid for p in _live() if _server_under(p.info, world.data)]


def leftovers(root: Path) -> list[psutil.Process]:
    """Live agent processes working under ``root`` and servers whose data is under it."""
    return [p for p in _live() if _agent_under(p.info, root) or _server_under(p.info, root)]


def _live() -> list[psutil.Process]:
    attrs = ["cmdline", "cwd", "environ", "status"]
    return [p for p in psutil.process_iter(attrs) if p.info["status"] != psutil.STATUS_ZOMBIE]


def _under(path: str, root: Path) -> bool:
    return path == str(root) or path.startswith(f"{root}{os.sep}")


def _agent_under(info: dict[str, Any], root: Path) -> bool:
    return str(FAKE_CLAUDE) in (info["cmdline"] or []) and _under(info["cwd"] or "", root)


def _server_under(info: dict[str, Any], root: Path) -> bool:
    home = (info["environ"] or {}).get("ORCH_HOME", "")
    return "serve" in (info["cmdline"] or []) and _under(home, root)


def no_agent_processes(world: World, timeout: float = 10.0) -> list[int]:
    """Wait until no agent process of the world is alive; the pids of survivors."""
    deadline = time.monotonic() + timeout
    while (left := agent_processes(world)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [p.pid for p in left]


def store_is_intact(world: World) -> None:
    """SQLite's own integrity check passes and ``orch audit verify`` exits 0."""
    with sqlite3.connect(f"file:{world.data / 'orch.db'}?mode=ro", uri=True) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    code, output = audit_kit.verify(world)
    assert code == 0, output


def turn_rows(world: World) -> dict[str, str]:
    """Every turn in the store: its status, by id."""
    return {turn: status for turn, (_, status) in turns(world).items()}


def turns(world: World) -> dict[str, tuple[str, str]]:
    """Every turn in the store: (agent id, status) by turn id; none before the first start."""
    if not (world.data / "orch.db").exists():
        return {}
    with sqlite3.connect(f"file:{world.data / 'orch.db'}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT id, agent_id, status FROM turns").fetchall()
    return {turn: (agent, status) for turn, agent, status in rows}


def tool_call(ident: int, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """A raw ``tools/call`` request, to pipeline."""
    params = {"name": tool, "arguments": arguments}
    return {"jsonrpc": "2.0", "id": ident, "method": "tools/call", "params": params}


def sigkill(server: Server) -> None:
    os.kill(server.pid, signal.SIGKILL)
    assert server.process.wait(10) == -signal.SIGKILL


def lock_is_free(world: World) -> bool:
    """Whether ``orch.lock`` can be taken now (it is released at once if so)."""
    fd = os.open(world.data / "orch.lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    finally:
        os.close(fd)


def hanging_turn(server: Server, world: World, agent_id: str) -> tuple[str, list[int]]:
    """A turn that hangs with a grandchild: its id, and the pids of both processes."""
    for name in ("pid", "grandchild.pid"):
        (world.fake_state / name).unlink(missing_ok=True)
    message = "#hang\n#grandchild\n#pidfile"
    sent = server.call("send_message_to_agent", agent_id=agent_id, message=message, wait_seconds=0)
    assert sent["status"] == "running", sent
    pids = [read_pid(world.fake_state / "pid"), read_pid(world.fake_state / "grandchild.pid")]
    return sent["turn_id"], pids


def agent_status(server: Server, session_id: str) -> dict[str, Any]:
    """The one agent of ``session_id`` as ``get_session_status`` shows it."""
    (agent,) = server.call("get_session_status", session_id=session_id)["agents"]
    return dict(agent)


def wait_idle(server: Server, session_id: str, within: float) -> dict[str, Any]:
    """Poll ``get_session_status`` until the session's one agent is idle; its view then."""
    deadline = time.monotonic() + within
    while (agent := agent_status(server, session_id))["state"] != "idle":
        assert time.monotonic() < deadline, agent
        time.sleep(0.05)
    return agent
