"""A full disk and a read-only store under a running ``orch serve``.

* **Disk full while a turn ends** (``RLIMIT_FSIZE`` lowered on the running
  server, as ``tests/e2e/test_audit_durability.py`` does): calls answer
  ``UNAVAILABLE``; the turn's ending cannot be saved, so the orchestrator keeps it
  and retries; once the disk is back it is saved by itself (the real reply, not a
  stand-in), the agent is idle, and everything serves again without a restart.
* **A read-only store** (``chattr +i`` on ``orch.db``, its ``-wal`` and the
  checkpoint file, with or without the data folder): every call, reads included,
  answers ``UNAVAILABLE`` (each call's audit decision is written before it runs:
  fail closed); health still answers and names the store; nothing is written;
  ``chattr -i`` brings service back without a restart, and the audit sealer
  catches up by itself.
* **An immutable WAL index** (``orch.db-shm``): SQLite maps that file, and ext4
  refuses to dirty a mapped page of an immutable file, so the kernel kills the
  server with ``SIGBUS`` at its next write (``UNAVAILABLE`` is accepted too, for
  other filesystems). Nothing acknowledged is lost, and a restart recovers.
* **An immutable data folder** alone changes nothing for a running server: its
  files exist and stay writable.

Every test ends with ``PRAGMA integrity_check`` and ``orch audit verify``, right
after the fault and after a restart. ``chattr`` needs root and a filesystem with
file attributes; the test fails (never skips) without them.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from orch_core import METRICS_READ, Principal
from orch_shell._keys import write_private_text
from tests import audit_kit
from tests.faults.kit import (
    Server,
    agent_status,
    fault_world,
    no_agent_processes,
    started,
    store_is_intact,
    turn_rows,
)
from tests.harness import ALICE, USER_SCOPES, World

pytestmark = pytest.mark.timeout(120)

CHECKPOINTS = "audit-checkpoints.jsonl"
#: Checkpoints often, so the checkpoint file exists before a fault and the sealer
#: has work pending while it lasts.
AUDIT = "\n[audit]\ncheckpoint_every_records = 4\ncheckpoint_every_seconds = 0.5\n"

NOT_AUDITED = (
    "UNAVAILABLE: orch could not write the audit record, so the call was not run and "
    "nothing was changed; check the data folder's free space and permissions (`orch doctor`)"
)


def operator_started(world: World) -> Server:
    """A server whose token may also read ``orch://health``."""
    operator = Principal(subject=ALICE.subject, scopes=USER_SCOPES | {METRICS_READ})
    token_file = world.root / "operator-token"
    write_private_text(token_file, world.token(operator) + "\n")
    return started(world, ORCH_TOKEN_FILE=str(token_file))


def health(server: Server) -> dict[str, Any]:
    """``orch://health``, parsed: its checks by name."""
    answer = server.request("resources/read", {"uri": "orch://health"})
    return dict(json.loads(answer["result"]["contents"][0]["text"])["checks"])


@contextlib.contextmanager
def disk_full(server: Server) -> Iterator[None]:
    """Every file of the server is "full" (``RLIMIT_FSIZE`` of 1 KiB) for the block."""
    process = psutil.Process(server.pid)
    soft, hard = process.rlimit(psutil.RLIMIT_FSIZE)
    process.rlimit(psutil.RLIMIT_FSIZE, (1024, hard))
    try:
        yield
    finally:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.rlimit(psutil.RLIMIT_FSIZE, (soft, hard))


def chattr(flag: str, path: Path) -> None:
    try:
        done = subprocess.run(
            ["chattr", flag, str(path)], capture_output=True, text=True, timeout=10, check=False
        )
    except FileNotFoundError:
        pytest.fail("these tests need chattr (e2fsprogs)")
    if done.returncode != 0:
        pytest.fail(
            f"chattr {flag} {path} failed ({done.stderr.strip()}): these tests need root "
            "and a filesystem with file attributes (ext4, xfs, btrfs)"
        )


@contextlib.contextmanager
def immutable(*paths: Path) -> Iterator[None]:
    """``chattr +i`` on ``paths`` for the block, always undone (or pytest could not
    delete the temp folder)."""
    done: list[Path] = []
    try:
        for path in paths:
            chattr("+i", path)
            done.append(path)
        yield
    finally:
        for path in reversed(done):
            chattr("-i", path)


def wait_for_log(server: Server, *needles: str, timeout: float = 15) -> str:
    """The first server log line holding every one of ``needles``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in server.log.splitlines():
            if all(needle in line for needle in needles):
                return line
        time.sleep(0.05)
    raise AssertionError(f"no log line with {needles}; the log:\n{server.log[-3000:]}")


def stored(world: World) -> dict[str, list[tuple[Any, ...]]]:
    """What the database holds that a call could change: state and audit records."""
    with sqlite3.connect(f"file:{world.data / 'orch.db'}?mode=ro", uri=True) as db:
        return {
            table: db.execute(f"SELECT * FROM {table} ORDER BY seq").fetchall()  # noqa: S608
            for table in ("sessions", "agents", "conversations", "turns", "audit_records")
        }


def checkpoint_count(world: World) -> int:
    with sqlite3.connect(f"file:{world.data / 'orch.db'}?mode=ro", uri=True) as db:
        return int(db.execute("SELECT count(*) FROM audit_checkpoints").fetchone()[0])


def unsealed(world: World) -> bool:
    """Whether the database has audit records no checkpoint seals yet."""
    with sqlite3.connect(f"file:{world.data / 'orch.db'}?mode=ro", uri=True) as db:
        (records,) = db.execute("SELECT max(seq) FROM audit_records").fetchone()
        (sealed,) = db.execute("SELECT coalesce(max(seq), 0) FROM audit_checkpoints").fetchone()
    return bool(records > sealed)


@contextlib.contextmanager
def read_only_with_work_pending(server: Server, world: World, *paths: Path) -> Iterator[None]:
    """``paths`` immutable for the block, with audit records left for the sealer.

    A call writes records and the sealer seals them within half a second: if it
    did so before ``chattr`` took effect, the store is made writable and tried again.
    """
    for _ in range(5):
        server.call("list_sessions")
        with immutable(*paths):
            if unsealed(world):
                yield
                return
    pytest.fail("the sealer sealed every record before the store was read-only, 5 times")


def wait_until(condition: Any, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    return bool(condition())


@pytest.mark.parametrize("restart", ["close", "kill"], ids=["graceful restart", "after a crash"])
def test_a_turn_that_ends_while_the_disk_is_full_keeps_its_ending(
    tmp_path: Path, restart: str
) -> None:
    world = fault_world(tmp_path)
    server = started(world)
    try:
        session = server.call("create_session", name="s", root_path=str(world.project))
        agent_id = server.call("create_agent", session_id=session["session_id"], name="a")[
            "agent_id"
        ]
        sent = server.call(
            "send_message_to_agent", agent_id=agent_id, message="hi\n#sleep 2", wait_seconds=0
        )
        turn_id = sent["turn_id"]
        assert sent["status"] == "running"
        with disk_full(server):
            during = [server.error("get_session_status", session_id=session["session_id"])]
            assert no_agent_processes(world) == [], "the turn's process did not end"
            # Its ending and the smaller fallback ending were both refused: it is kept.
            kept = wait_for_log(server, "turn end not saved yet: retrying", turn_id)
            during += [
                server.error("send_message_to_agent", agent_id=agent_id, message="x"),
                server.error("list_sessions"),
            ]
        assert during == [NOT_AUDITED] * 3
        assert kept and "store write failed" in server.log

        # The disk is back: service resumes at once, without a restart, and the
        # turn's real ending, kept while the store refused it, is saved.
        assert server.call("list_sessions")["sessions"][0]["session_id"] == session["session_id"]
        other = server.call("create_session", name="after", root_path=str(world.project))
        assert wait_until(lambda: turn_rows(world) == {turn_id: "completed"}, timeout=5)
        done = agent_status(server, session["session_id"])
        assert done["state"] == "idle" and done["current_turn"] is None
        assert (done["last_reply"]["turn_id"], done["last_reply"]["reply"]) == (
            turn_id,
            "turn 1: hi",
        )
        assert no_agent_processes(world) == []
        store_is_intact(world)

        if restart == "close":
            assert server.close() == 0
        else:
            server.process.send_signal(signal.SIGKILL)
            assert server.process.wait(10) == -signal.SIGKILL
    finally:
        server.kill()

    restarted = started(world)
    try:
        agent = agent_status(restarted, session["session_id"])
        last = agent["last_reply"]
        assert agent["state"] == "idle"
        assert (last["turn_id"], last["status"], last["reply"]) == (
            turn_id,
            "completed",
            "turn 1: hi",
        )
        again = restarted.call(
            "send_message_to_agent", agent_id=agent_id, message="again", wait_seconds=30
        )
        assert again["status"] == "completed", again
        assert other["session_id"] in {
            s["session_id"] for s in restarted.call("list_sessions")["sessions"]
        }
        assert restarted.close() == 0
    finally:
        restarted.kill()
    assert turn_rows(world) == {turn_id: "completed", again["turn_id"]: "completed"}
    store_is_intact(world)


@pytest.mark.parametrize("with_folder", [False, True], ids=["files", "files and folder"])
def test_a_read_only_store_refuses_every_call_then_serves_again(
    tmp_path: Path, with_folder: bool
) -> None:
    world = fault_world(tmp_path, AUDIT)
    server = operator_started(world)
    data = world.data
    try:
        session = server.call("create_session", name="s", root_path=str(world.project))
        agent_id = server.call("create_agent", session_id=session["session_id"], name="a")[
            "agent_id"
        ]
        server.call("send_message_to_agent", agent_id=agent_id, message="hi", wait_seconds=30)
        assert wait_until((data / CHECKPOINTS).exists)
        # The -shm file stays writable: see test_an_immutable_wal_index_kills_the_server.
        files = [data / "orch.db", data / "orch.db-wal", data / CHECKPOINTS]
        assert all(path.exists() for path in files), sorted(p.name for p in data.iterdir())
        paths = [*files, *([data] if with_folder else [])]
        with read_only_with_work_pending(server, world, *paths):
            before, checkpoint_text = stored(world), (data / CHECKPOINTS).read_bytes()
            calls: list[tuple[str, dict[str, Any]]] = [
                ("list_sessions", {}),
                ("get_session_status", {"session_id": session["session_id"]}),
                ("create_session", {"name": "during", "root_path": str(world.project)}),
                ("send_message_to_agent", {"agent_id": agent_id, "message": "during"}),
                ("delete_agent", {"agent_id": agent_id}),
                ("delete_session", {"session_id": session["session_id"], "force": True}),
            ]
            refused = {tool: server.error(tool, **arguments) for tool, arguments in calls}
            checks = health(server)
            wait_for_log(server, "audit checkpoint not stored")  # the sealer tried
            assert stored(world) == before, "a refused call wrote something"
            assert (data / CHECKPOINTS).read_bytes() == checkpoint_text
        assert refused == {tool: NOT_AUDITED for tool, _ in calls}
        assert checks["store"]["status"] == "failing"
        assert "nothing can be recorded" in checks["store"]["detail"]

        # Writable again: the sealer catches up by itself, and every call works.
        assert wait_until(lambda: not unsealed(world)), "the sealer did not resume"
        assert stored(world) == before
        assert health(server)["store"]["status"] == "ok"
        listed = server.call("list_sessions")["sessions"]
        assert [s["name"] for s in listed] == ["s"]
        server.call("create_session", name="after", root_path=str(world.project))
        reply = server.call("send_message_to_agent", agent_id=agent_id, message="after")
        assert (reply["status"], reply["turn_number"]) == ("completed", 2)
        store_is_intact(world)
        assert server.close() == 0
    finally:
        server.kill()
    # Not one allowed decision for a refused call: each was refused before it ran.
    allowed = [d["tool"] for d in audit_kit.decisions(world) if d["decision"] == "allowed"]
    assert [tool for tool in allowed if tool != "list_sessions"] == [
        "create_session",
        "create_agent",
        "send_message_to_agent",
        "create_session",
        "send_message_to_agent",
    ]
    restarted = started(world)
    try:
        names = {s["name"] for s in restarted.call("list_sessions")["sessions"]}
        assert names == {"s", "after"}
        assert restarted.close() == 0
    finally:
        restarted.kill()
    store_is_intact(world)


def test_an_immutable_wal_index_loses_nothing_and_a_restart_recovers(
    tmp_path: Path,
) -> None:
    """On ext4 the kernel kills the server with SIGBUS at its next write (SQLite maps
    the WAL index); an answer ``UNAVAILABLE`` would do as well. Either way nothing
    acknowledged is lost and a restart recovers."""
    world = fault_world(tmp_path)
    server = started(world)
    try:
        session = server.call("create_session", name="s", root_path=str(world.project))
        with immutable(world.data / "orch.db-shm"):
            try:
                answer = server.request(
                    "tools/call", {"name": "list_sessions", "arguments": {}}, 20
                )
            except EOFError:
                assert server.process.wait(10) == -signal.SIGBUS
            else:
                assert answer["result"]["isError"], answer
                assert answer["result"]["content"][0]["text"].startswith("UNAVAILABLE: ")
    finally:
        server.kill()
    store_is_intact(world)
    restarted = started(world)
    try:
        listed = restarted.call("list_sessions")["sessions"]
        assert [s["session_id"] for s in listed] == [session["session_id"]]
        assert restarted.close() == 0
    finally:
        restarted.kill()
    store_is_intact(world)


def test_an_immutable_data_folder_does_not_disturb_a_running_server(tmp_path: Path) -> None:
    world = fault_world(tmp_path, AUDIT)
    server = started(world)
    try:
        session = server.call("create_session", name="s", root_path=str(world.project))
        assert wait_until((world.data / CHECKPOINTS).exists)
        with immutable(world.data):
            with pytest.raises(PermissionError):
                (world.data / "new-file").touch()
            agent = server.call("create_agent", session_id=session["session_id"], name="a")
            reply = server.call("send_message_to_agent", agent_id=agent["agent_id"], message="hi")
            assert reply["status"] == "completed"
            sealed = checkpoint_count(world)
            server.call("create_session", name="during", root_path=str(world.project))
            assert wait_until(lambda: checkpoint_count(world) > sealed), "no checkpoint meanwhile"
            store_is_intact(world)
        assert server.close() == 0
    finally:
        server.kill()
    store_is_intact(world)
    lines = (world.data / CHECKPOINTS).read_text().splitlines()
    assert len(lines) == checkpoint_count(world)
