"""orch's stdio transport answers malformed input per JSON-RPC and keeps serving."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.raw_client import INITIALIZE, RawServer
from tests.harness import make_world


@pytest.mark.timeout(60)
def test_garbage_and_oversized_lines_get_errors_and_the_server_keeps_working(
    tmp_path: Path,
) -> None:
    world = make_world(tmp_path)
    server = RawServer(world)
    try:
        server.initialize()
        assert server.process.stdin is not None
        server.process.stdin.write(b"this is not json\n")
        server.process.stdin.flush()
        parse_error = server._read_message(10)
        assert parse_error["error"]["code"] == -32700 and parse_error["id"] is None

        server.send({"jsonrpc": "2.0", "id": 77, "method": 5})
        invalid = server._read_message(10)
        assert invalid["error"]["code"] == -32600 and invalid["id"] == 77

        server.process.stdin.write(
            b'{"jsonrpc": "2.0", "id": 9, "method": "x", "pad": "' + b"a" * (8 << 20) + b'"}\n'
        )
        server.process.stdin.flush()
        too_big = server._read_message(20)
        assert too_big["error"]["code"] == -32600 and "too large" in too_big["error"]["message"]

        listed = server.call("list_sessions")
        assert listed == {"sessions": []}
        assert server.close() == 0
        assert server.process.stdout is None or server.process.stdout.closed
    finally:
        server.kill()


@pytest.mark.timeout(60)
def test_nothing_but_protocol_on_stdout(tmp_path: Path) -> None:
    """Every byte the server writes to stdout is a JSON-RPC message."""
    world = make_world(tmp_path)
    server = RawServer(world, ORCH_LOG_LEVEL="debug")
    try:
        server.initialize()
        session = server.call("create_session", name="s", root_path=str(world.project))
        agent = server.call("create_agent", session_id=session["session_id"], name="a")
        server.call("send_message_to_agent", agent_id=agent["agent_id"], message="hi\n#garbage")
        assert server.process.stdin is not None
        server.process.stdin.close()
        assert server.process.stdout is not None
        rest = server.process.stdout.read()
        assert server.process.wait(20) == 0
    finally:
        server.kill()
    import json

    for line in rest.splitlines():
        assert json.loads(line)["jsonrpc"] == "2.0"


@pytest.mark.timeout(60)
def test_requests_written_just_before_eof_are_still_answered(tmp_path: Path) -> None:
    """A client that writes its requests and closes stdin at once gets every answer."""
    import json
    import subprocess

    from tests.harness import ORCH_BIN

    world = make_world(tmp_path)
    lines = [
        INITIALIZE,
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "list_sessions", "arguments": {}},
        },
        {
            "jsonrpc": "2.0",
            "id": 3,
            "method": "tools/call",
            "params": {"name": "get_session_status", "arguments": {"session_id": "ses_nope"}},
        },
    ]
    done = subprocess.run(
        [str(ORCH_BIN), "serve"],
        input="".join(json.dumps(line) + "\n" for line in lines).encode(),
        capture_output=True,
        env=world.server_env(),
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    answers = {m["id"]: m for m in map(json.loads, done.stdout.splitlines())}
    assert set(answers) == {1, 2, 3}
    assert answers[2]["result"]["structuredContent"] == {"sessions": []}
    assert answers[3]["result"]["isError"] is True
    assert answers[3]["result"]["content"][0]["text"].startswith("NOT_FOUND")
    for line in done.stderr.decode().splitlines():
        assert "Error calling tool" not in line, line
