"""``orch serve`` driven by a client we did not write: the MCP Inspector CLI.

Each ``mcp-inspector-cli --cli <server> --method ...`` run starts its own
``orch serve`` over stdio, makes one request and prints the JSON result on stdout.
It exits 0 even when the tool reports an error, so the tests read ``isError`` and
the structured content rather than the exit code. State lives in ``ORCH_HOME``,
so a session created by one run is seen by the next.

The inspector passes its whole environment on to the server, so the server's
environment is the environment the inspector runs in (``World.server_env()``).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.harness import EXPECTED_TOOLS, ORCH_BIN, World, make_world
from tests.npm_bins import npm_bin

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


def run(world: World, *method: str) -> dict[str, Any]:
    """One inspector run against a fresh ``orch serve``; its parsed JSON output."""
    # Looked up here, not in a fixture, so a missing install is a failed test.
    inspector = npm_bin("mcp-inspector-cli")
    # inspector-cli (through 1.0.3) probes for its own package.json relative to
    # the working directory, not to its module, and dies with ERR_MODULE_NOT_FOUND
    # unless ``../package.json`` exists (modelcontextprotocol/inspector#1503):
    # running it from its own build/ directory makes the probe find it.
    cwd = inspector.resolve().parent
    done = subprocess.run(
        [str(inspector), "--cli", str(ORCH_BIN), "serve", *method],
        cwd=cwd,
        env=world.server_env(),
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, f"inspector failed ({done.returncode}): {done.stderr[-3000:]}"
    try:
        return dict(json.loads(done.stdout))
    except json.JSONDecodeError as error:
        raise AssertionError(f"not JSON on stdout ({error}): {done.stdout[:2000]!r}") from error


def call(world: World, tool: str, **args: str) -> dict[str, Any]:
    # The inspector JSON-parses each value it can ("123" becomes a number); ours are strings.
    pairs = [f"{key}={value}" for key, value in args.items()]
    return run(world, "--method", "tools/call", "--tool-name", tool, "--tool-arg", *pairs)


def test_lists_exactly_the_nine_tools(world: World) -> None:
    listed = run(world, "--method", "tools/list")
    names = [tool["name"] for tool in listed["tools"]]
    assert sorted(names) == sorted(EXPECTED_TOOLS)
    for tool in listed["tools"]:
        assert tool["inputSchema"]["type"] == "object", tool["name"]
        assert tool["description"], tool["name"]


def test_a_session_created_by_one_run_is_seen_by_the_next(world: World) -> None:
    created = call(world, "create_session", name="webapp", root_path=str(world.project))
    assert created["isError"] is False, created
    session = created["structuredContent"]
    sid = session["session_id"]
    assert sid.startswith("ses_")
    assert json.loads(created["content"][0]["text"])["session_id"] == sid

    status = call(world, "get_session_status", session_id=sid)
    assert status["isError"] is False, status
    view = status["structuredContent"]
    assert view["session_id"] == sid
    assert view["name"] == "webapp"
    assert view["root_path"] == str(world.project.resolve())
    assert view["agents"] == []


def test_an_unknown_session_is_a_not_found_tool_error(world: World) -> None:
    missing = call(world, "get_session_status", session_id="ses_0000000000000000")
    assert missing["isError"] is True, missing
    text = missing["content"][0]["text"]
    assert text.startswith("NOT_FOUND"), text
    assert "ses_0000000000000000" in text
    assert "structuredContent" not in missing
