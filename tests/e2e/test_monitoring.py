"""Monitoring against a real ``orch serve``: HTTP ``/health`` and ``/metrics``,
progress over stdio, and request ids in the log file.

``GET /health`` answers anyone with the verdict alone; ``GET /metrics`` answers a
local client without a token but a proxied or remote one only with a token that
may read metrics; the MCP resource ``orch://metrics`` needs that scope too, and a
refused token shows up in ``orch_auth_failures_total``.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from prometheus_client.parser import text_string_to_metric_families

from orch_core import METRICS_READ, SESSIONS_WRITE, Principal
from tests.e2e.http_server import INITIALIZE, http_server
from tests.harness import ALICE, ORCH_BIN, USER_SCOPES, World, make_world
from tests.shell.test_progress import MESSAGE, Seen, check_progress

SCRAPER = Principal(subject="service:prometheus", scopes={METRICS_READ})


def write_config(world: World, text: str) -> None:
    (world.data / "orch.toml").write_text(text, encoding="utf-8")


def family_values(text: str, name: str) -> dict[frozenset[tuple[str, str]], float]:
    return {
        frozenset(sample.labels.items()): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


def test_http_health_says_only_the_verdict_to_anyone(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    with http_server(world) as server:
        status, headers, body = server.request("GET", "/health", headers={"Accept": "*/*"})
    assert status == 200
    assert headers["content-type"].startswith("application/json")
    assert json.loads(body) == {"status": "ok"}


def test_http_metrics_answer_a_local_client_or_a_token_with_the_scope(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    with http_server(world) as server:
        status, headers, body = server.request("GET", "/metrics", headers={"Accept": "*/*"})
        assert status == 200, body
        assert headers["content-type"].startswith("text/plain")
        assert family_values(body.decode(), "orch_turns_running") == {frozenset(): 0.0}
        # Through a reverse proxy every client would look local: not trusted.
        proxied = {"Accept": "*/*", "X-Forwarded-For": "203.0.113.9"}
        status, headers, _ = server.request("GET", "/metrics", headers=proxied)
        assert status == 401
        assert "resource_metadata=" in headers["www-authenticate"]
        user = {**proxied, "Authorization": f"Bearer {world.token(ALICE)}"}
        status, headers, body = server.request("GET", "/metrics", headers=user)
        assert status == 403, body
        assert 'scope="metrics:read"' in headers["www-authenticate"]
        scraper = {**proxied, "Authorization": f"Bearer {world.token(SCRAPER)}"}
        status, _, body = server.request("GET", "/metrics", headers=scraper)
        assert status == 200
        assert b"# TYPE orch_tool_calls_total counter" in body


def test_behind_a_public_url_no_client_counts_as_local(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    with http_server(world, "--public-url", "https://orch.example") as server:
        status, _, _ = server.request("GET", "/metrics", headers={"Accept": "*/*"})
        assert status == 401
        scraper = {"Accept": "*/*", "Authorization": f"Bearer {world.token(SCRAPER)}"}
        assert server.request("GET", "/metrics", headers=scraper)[0] == 200


def test_reading_orch_metrics_over_http_needs_the_scope_and_refusals_are_counted(
    tmp_path: Path,
) -> None:
    world = make_world(tmp_path)
    read = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "resources/read",
        "params": {"uri": "orch://metrics"},
    }
    with http_server(world) as server:
        status, headers, body = server.post(read, world.token(ALICE))
        assert status == 403, body
        assert 'scope="metrics:read"' in headers["www-authenticate"]
        assert server.post(INITIALIZE, world.token(ALICE, ttl=-60))[0] == 401
        assert server.post(INITIALIZE, "not-a-token")[0] == 401
        _, _, body = server.request("GET", "/metrics", headers={"Accept": "*/*"})
    failures = family_values(body.decode(), "orch_auth_failures_total")
    assert failures == {
        frozenset({("reason", "expired")}): 1.0,
        frozenset({("reason", "malformed")}): 1.0,
    }


def test_metrics_switched_off(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    write_config(world, "[server]\nmetrics = false\n")
    with http_server(world) as server:
        assert server.request("GET", "/metrics", headers={"Accept": "*/*"})[0] == 404
        assert server.request("GET", "/health", headers={"Accept": "*/*"})[0] == 200


@pytest.mark.timeout(90)
async def test_progress_over_real_stdio(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    seen: Seen = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((time.monotonic(), progress, message))

    params = StdioServerParameters(command=str(ORCH_BIN), args=["serve"], env=world.server_env())
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()

        async def call(name: str, args: dict[str, Any], **options: Any) -> dict[str, Any]:
            result = await session.call_tool(name, args, **options)
            assert not result.is_error, result.content
            return dict(result.structured_content or {})

        created = await call("create_session", {"name": "p", "root_path": str(world.project)})
        agent = await call("create_agent", {"session_id": created["session_id"], "name": "builder"})
        started = time.monotonic()
        result = await call(
            "send_message_to_agent",
            {"agent_id": agent["agent_id"], "message": MESSAGE},
            progress_callback=on_progress,
        )
        finished = time.monotonic()
    assert result["status"] == "completed"
    check_progress(seen, started, finished)


async def test_every_log_line_of_a_call_carries_its_request_id(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    log_file = world.data / "orch.log"
    write_config(world, f'[server]\nlog_file = "{log_file}"\n')
    lacking = Principal(subject=ALICE.subject, scopes=USER_SCOPES - {SESSIONS_WRITE})
    env = world.server_env(ORCH_TOKEN=world.token(lacking))
    del env["ORCH_TOKEN_FILE"]
    params = StdioServerParameters(command=str(ORCH_BIN), args=["serve"], env=env)
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        refused = await session.call_tool("create_session", {"name": "s", "root_path": "/"})
        assert refused.is_error
        assert not (await session.call_tool("list_sessions", {})).is_error
    lines = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert oct(log_file.stat().st_mode & 0o777) == oct(0o600)
    denied = next(line for line in lines if line["event"] == "permission denied")
    calls = [line for line in lines if line["event"] == "tool call"]
    assert [(c["tool"], c["code"]) for c in calls] == [
        ("create_session", "PERMISSION_DENIED"),
        ("list_sessions", "OK"),
    ]
    assert denied["request_id"] == calls[0]["request_id"]
    assert calls[0]["request_id"] != calls[1]["request_id"]
    assert all(c["request_id"].startswith("req_") for c in calls)


def test_a_log_file_that_cannot_be_opened_stops_the_server_naming_the_setting(
    tmp_path: Path,
) -> None:
    world = make_world(tmp_path)
    write_config(world, f'[server]\nlog_file = "{tmp_path / "missing" / "orch.log"}"\n')
    run = subprocess.run(
        [str(ORCH_BIN), "serve"],
        env=world.server_env(),
        input="",
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert run.returncode == 2
    assert "server.log_file: cannot open" in run.stderr
    assert run.stdout == ""
