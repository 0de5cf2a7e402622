"""The audit log against a real ``orch serve``: crashes, a full disk, and secrets.

* ``kill -9`` in the middle of a burst of pipelined calls: the chain verifies
  (reporting its unsealed tail), and every call the client saw succeed has its
  outcome record; nothing in the state lacks one.
* A full disk (``RLIMIT_FSIZE`` lowered on the running server with ``prlimit``):
  calls fail with ``UNAVAILABLE``, none runs unaudited, and once space is back
  the server works and the chain verifies.
* After a full scenario, no token, key or message text is in the audit tables,
  the checkpoint file or the logs.
"""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import threading
from pathlib import Path
from typing import Any

import psutil
import pytest

from orch_shell._audit_keys import audit_key_files
from tests import audit_kit
from tests.e2e.raw_client import RawServer
from tests.harness import World, make_world

pytestmark = pytest.mark.timeout(120)

BURST = 150


@pytest.fixture
def world(tmp_path: Path) -> World:
    world = make_world(tmp_path)
    # Room for a burst; logs go to stderr, which `started` drains.
    (world.data / "orch.toml").write_text(
        "[limits]\nread_per_minute = 0\nwrite_per_minute = 0\nmessage_per_minute = 0\n"
        "max_sessions_per_principal = 1000\n"
    )
    return world


def started(world: World) -> tuple[RawServer, list[bytes]]:
    """An ``orch serve`` whose stderr is read as it comes (a full pipe would block it)."""
    server = RawServer(world)
    stderr: list[bytes] = []
    stream = server.process.stderr
    assert stream is not None
    threading.Thread(target=lambda: stderr.extend(iter(stream.readline, b"")), daemon=True).start()
    return server, stderr


def answer_text(answer: dict[str, Any]) -> str:
    return str(answer["result"]["content"][0]["text"])


def test_kill_9_in_a_burst_loses_no_acknowledged_call(world: World) -> None:
    server, _ = started(world)
    seen: dict[str, str] = {}
    try:
        server.initialize()
        for number in range(BURST):  # pipelined: all written before any answer is read
            arguments = {"name": f"s{number}", "root_path": str(world.project)}
            server.send(
                {
                    "jsonrpc": "2.0",
                    "id": 1000 + number,
                    "method": "tools/call",
                    "params": {"name": "create_session", "arguments": arguments},
                }
            )
        while len(seen) < BURST // 2:
            message = server._read_message(30)  # raw reading: the answers come in any order
            result = message.get("result", {})
            if not result.get("isError") and "structuredContent" in result:
                seen[result["structuredContent"]["session_id"]] = result["structuredContent"][
                    "name"
                ]
        os.kill(server.pid, signal.SIGKILL)
        server.process.wait(10)
    finally:
        server.kill()

    code, output = audit_kit.verify(world)
    assert code == 0, output
    assert "unsealed at the tail" in output
    created = {
        session_id
        for body in (r["body"] for r in audit_kit.records(world, "tool.outcome"))
        if body["code"] == "OK"
        for session_id in body["created"]
    }
    assert set(seen) <= created, "a call the client saw succeed has no outcome record"
    with sqlite3.connect(world.data / "orch.db") as db:
        stored = {row[0] for row in db.execute("SELECT id FROM sessions")}
    assert stored == created, "the state and the outcome records disagree"

    # A restart continues the same chain, which still verifies.
    restarted, _ = started(world)
    try:
        restarted.initialize()
        listed = restarted.call("list_sessions")
        assert {s["session_id"] for s in listed["sessions"]} == stored
        assert restarted.close() == 0
    finally:
        restarted.kill()
    code, output = audit_kit.verify(world)
    assert code == 0, output
    assert output.endswith("; 0 unsealed at the tail"), output


def test_a_full_disk_fails_closed_and_recovers(world: World) -> None:
    server, _ = started(world)
    try:
        server.initialize()
        before = server.call("create_session", name="before", root_path=str(world.project))
        process = psutil.Process(server.pid)
        soft, hard = process.rlimit(psutil.RLIMIT_FSIZE)
        process.rlimit(psutil.RLIMIT_FSIZE, (1024, hard))  # every file is now "full"
        refused = []
        for tool, arguments in [
            ("create_session", {"name": "during", "root_path": str(world.project)}),
            ("get_session_status", {"session_id": before["session_id"]}),
            ("list_sessions", {}),
            ("delete_session", {"session_id": before["session_id"]}),
        ]:
            answer = server.request("tools/call", {"name": tool, "arguments": arguments})
            assert answer["result"]["isError"], (tool, answer)
            refused.append(answer_text(answer))
        process.rlimit(psutil.RLIMIT_FSIZE, (soft, hard))  # space is back
        listed = server.call("list_sessions")
        after = server.call("create_session", name="after", root_path=str(world.project))
        assert server.close() == 0
    finally:
        server.kill()

    assert all(text.startswith("UNAVAILABLE: ") for text in refused), refused
    assert "free space" in refused[0]
    assert [s["name"] for s in listed["sessions"]] == ["before"], "a refused call ran"
    code, output = audit_kit.verify(world)
    assert code == 0, output
    allowed = [d for d in audit_kit.decisions(world) if d["decision"] == "allowed"]
    assert [d["tool"] for d in allowed] == ["create_session", "list_sessions", "create_session"]
    outcomes = audit_kit.records(world, "tool.outcome")
    assert outcomes[-1]["body"]["created"] == [after["session_id"]]


SECRET_MESSAGE = "MESSAGE-7f3a-never-in-the-audit-log"  # noqa: S105 - markers to grep for
SECRET_ROLE = "ROLE-91c2-never-in-the-audit-log"  # noqa: S105
SECRET_DESCRIPTION = "DESCRIPTION-55e1-never-in-the-audit-log"  # noqa: S105
SECRET_FIRST = "FIRST-0d4b-never-in-the-audit-log"  # noqa: S105


def key_body(path: Path) -> str:
    return "".join(line for line in path.read_text().splitlines() if "-----" not in line)


def test_no_secret_reaches_the_audit_log_or_the_logs(world: World) -> None:
    token = world.token_file.read_text().strip()
    with (world.data / "orch.toml").open("a") as config:
        config.write(f'\n[server]\nlog_file = "{world.root / "server.log"}"\nlog_level = "debug"\n')
    server, stderr_lines = started(world)
    try:
        server.initialize()
        session = server.call(
            "create_session",
            name="s",
            root_path=str(world.project),
            description=SECRET_DESCRIPTION,
        )
        agent = server.call(
            "create_agent", session_id=session["session_id"], name="a", role=SECRET_ROLE
        )
        server.call("send_message_to_agent", agent_id=agent["agent_id"], message=SECRET_MESSAGE)
        server.call(
            "start_new_agent_conversation",
            agent_id=agent["agent_id"],
            initial_message=SECRET_FIRST,
        )
        server.request("resources/read", {"uri": f"orch://agents/{agent['agent_id']}/transcript"})
        server.call("delete_session", session_id=session["session_id"], force=True)
        assert server.close() == 0
    finally:
        server.kill()

    with sqlite3.connect(world.data / "orch.db") as db:
        audit_text = "\n".join(
            text
            for table in ("audit_records", "audit_checkpoints")
            for (text,) in db.execute(f"SELECT record FROM {table}")  # noqa: S608
        )
    checkpoints = (world.data / "audit-checkpoints.jsonl").read_text()
    logs = (world.root / "server.log").read_text() + b"".join(stderr_lines).decode()
    secrets = {
        "token": token,
        "token signature": token.rsplit(".", 1)[1],
        "token signing key": key_body(world.paths.signing_key),
        "audit signing key": key_body(audit_key_files(world.paths)[0]),
        "message": SECRET_MESSAGE,
        "role": SECRET_ROLE,
        "description": SECRET_DESCRIPTION,
        "first message": SECRET_FIRST,
    }
    for place, text in [("audit log", audit_text), ("checkpoints", checkpoints), ("logs", logs)]:
        for what, secret in secrets.items():
            assert secret not in text, f"the {what} is in the {place}"
    # What is kept instead: the text's length and digest.
    sent = audit_kit.decisions(world, "send_message_to_agent")[0]["arguments"]["message"]
    assert sent == {
        "bytes": len(SECRET_MESSAGE),
        "sha256": hashlib.sha256(SECRET_MESSAGE.encode()).hexdigest(),
    }
    assert audit_kit.verify(world)[0] == 0


def test_a_session_is_recorded_from_start_to_stop(world: World) -> None:
    server, _ = started(world)
    try:
        server.initialize()
        server.request("tools/list")
        server.call("list_sessions")
        assert server.close() == 0
    finally:
        server.kill()
    recorded = audit_kit.records(world)
    assert [r["kind"] for r in recorded] == [
        "server.start",
        "mcp.initialize",
        "mcp.tools_list",
        "tool.decision",
        "tool.outcome",
        "server.stop",
    ]
    assert [r["seq"] for r in recorded] == list(range(1, 7))
    initialize = recorded[1]["body"]
    assert initialize["client"] == {"name": "orch-tests", "version": "0"}
    assert initialize["transport"] == "stdio"
    assert recorded[3]["body"]["transport"] == "stdio"
    assert recorded[0]["body"]["pid"] == recorded[-1]["body"]["pid"] == server.pid
    assert audit_kit.verify(world) == (
        0,
        "audit log OK: 6 records; sealed up to seq 6 by 1 checkpoint; 0 unsealed at the tail",
    )
