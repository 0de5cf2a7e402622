"""Limits over HTTP, against ``orch serve --http`` as a real subprocess.

Two principals: while one floods ``get_session_status`` (a bounded loop on
loopback), the other is still served, and the flooder is told when to retry.
The latency under a flood is measured by ``bench/bench_fairness.py``, not here.
Transport caps: a body over ``limits.max_stdio_line_bytes`` is a 413 naming the
setting, and malformed JSON is a JSON-RPC parse error, never a crash.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import time
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client

from orch_core import Principal
from orch_shell._rate_limit_edge import META_KEY
from tests.e2e.http_server import INITIALIZE, MCP_ACCEPT, HttpServer, http_server
from tests.harness import ALICE, USER_SCOPES, make_world

BOB = Principal(subject="local:bob", scopes=USER_SCOPES)
FLOOD_CALLS = 400
FLOODERS = 4


async def flood(client: Client[Any], session_id: str, calls: int) -> list[Any]:
    arguments = {"session_id": session_id}
    return [
        await client.call_tool("get_session_status", arguments, raise_on_error=False)
        for _ in range(calls)
    ]


@pytest.mark.timeout(120)
async def test_a_flooding_principal_does_not_starve_another(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    with http_server(world) as server:
        async with (
            Client(server.url, auth=world.token(ALICE)) as alice,
            Client(server.url, auth=world.token(BOB)) as bob,
        ):
            mine = await alice.call_tool(
                "create_session", {"name": "a", "root_path": str(world.project)}
            )
            theirs = await bob.call_tool(
                "create_session", {"name": "b", "root_path": str(world.project)}
            )
            a_id = mine.structured_content["session_id"]  # type: ignore[index]
            b_id = theirs.structured_content["session_id"]  # type: ignore[index]
            started = time.monotonic()
            flooding = [
                asyncio.create_task(flood(alice, a_id, FLOOD_CALLS // FLOODERS))
                for _ in range(FLOODERS)
            ]
            served = []
            while not all(task.done() for task in flooding):
                served.append(await bob.call_tool("get_session_status", {"session_id": b_id}))
                await asyncio.sleep(0.05)
            elapsed = time.monotonic() - started
            flooded = [result for task in flooding for result in task.result()]
    assert served and all(not result.is_error for result in served)
    refused = [result for result in flooded if result.is_error]
    # The default read limit, 600 a minute with bursts of 100, whatever the speed.
    assert FLOOD_CALLS - len(refused) <= 100 + 10 * elapsed
    assert refused
    for result in refused:
        assert result.content[0].text.startswith("RATE_LIMITED: too many read calls")
        assert result.meta[META_KEY]["retry_after_ms"] >= 1


def post_raw(server: HttpServer, body: bytes, token: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        headers = {
            "Content-Type": "application/json",
            "Accept": MCP_ACCEPT,
            "Authorization": f"Bearer {token}",
        }
        connection.request("POST", "/mcp", body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.mark.timeout(60)
def test_the_body_cap_is_the_setting_and_malformed_json_is_a_parse_error(
    tmp_path: Path,
) -> None:
    world = make_world(tmp_path)
    (world.data / "orch.toml").write_text("[limits]\nmax_stdio_line_bytes = 65536\n")
    with http_server(world) as server:
        token = world.token()
        padded = dict(INITIALIZE, pad="a" * 70_000)
        status, body = post_raw(server, json.dumps(padded).encode(), token)
        assert status == 413
        assert body == b"request body too large: over 65536 bytes (limits.max_stdio_line_bytes)"
        status, body = post_raw(server, json.dumps(INITIALIZE).encode(), token)
        assert status == 200, body
        status, body = post_raw(server, b'{"jsonrpc": "2.0", "id": 1, "method": ', token)
        assert status == 400
        assert json.loads(body)["error"]["code"] == -32700
        status, body = post_raw(server, json.dumps(INITIALIZE).encode(), token)
        assert status == 200, body
        assert server.process.poll() is None
