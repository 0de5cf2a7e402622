"""The MCP conformance suite's server scenarios against ``orch serve --http``, auth on.

The suite (``@modelcontextprotocol/conformance``, pinned in ``tests/package.json``)
cannot send headers, so :mod:`tests.e2e.bearer_proxy` sits in front of orch and
adds the bearer token, forwarding everything else (Host and Origin included)
unchanged. ``conformance_baseline.yml`` lists the scenarios expected to fail,
each needing one of the suite's own ``test_*`` fixtures; the suite exits 1 on
any other failure and on a baseline entry that starts to pass.
"""

from __future__ import annotations

import http.client
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from orch_core import ALL_SCOPES, Principal
from tests.e2e.bearer_proxy import bearer_proxy
from tests.e2e.http_server import INITIALIZE, MCP_ACCEPT, http_server
from tests.harness import World, make_world
from tests.npm_bins import node22_script

BASELINE = Path(__file__).with_name("conformance_baseline.yml")
LOCAL = Principal(subject="local:you", scopes=ALL_SCOPES)

#: What orch passes of the suite's active server scenarios (0.1.16). The two
#: tools-call scenarios pass on orch's own "unknown tool" error: a text content
#: with ``isError`` set is all they check.
EXPECTED_PASSING = {
    "server-initialize",
    "logging-set-level",
    "ping",
    "tools-list",
    "tools-call-simple-text",
    "tools-call-error",
    "server-sse-multiple-streams",
    "resources-list",
    "prompts-list",
    "dns-rebinding-protection",
}


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


def baseline() -> set[str]:
    entries = [line.strip() for line in BASELINE.read_text(encoding="utf-8").splitlines()]
    return {entry.removeprefix("- ") for entry in entries if entry.startswith("- ")}


def results(directory: Path) -> dict[str, list[dict[str, Any]]]:
    """Each scenario's checks, from the ``server-<scenario>-<time>/checks.json`` files."""
    found: dict[str, list[dict[str, Any]]] = {}
    for checks in directory.glob("server-*/checks.json"):
        scenario = checks.parent.name.removeprefix("server-").rsplit("-", 6)[0]
        found[scenario] = json.loads(checks.read_text(encoding="utf-8"))
    return found


@pytest.mark.timeout(600)
def test_server_scenarios_pass_but_for_the_fixture_baseline(world: World, tmp_path: Path) -> None:
    out = tmp_path / "results"
    with http_server(world) as server, bearer_proxy(server.port, world.token(LOCAL)) as proxy:
        done = subprocess.run(
            [
                *node22_script("conformance"),
                "server",
                "--url",
                proxy.url,
                "--expected-failures",
                str(BASELINE),
                "--output-dir",
                str(out),
            ],
            env={"PATH": "/usr/bin:/bin", "HOME": str(world.home), "NO_COLOR": "1"},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=540,
            check=False,
        )
        assert proxy.seen, "nothing went through the proxy"
    summary = done.stdout[done.stdout.find("=== SUMMARY ===") :]
    assert done.returncode == 0, f"{summary}\n{done.stderr[-3000:]}"

    scenarios = results(out)
    failing = {name for name, checks in scenarios.items() if _failed(checks)}
    assert failing == baseline(), summary
    assert set(scenarios) - failing == EXPECTED_PASSING, summary
    # A baseline scenario must fail for its fixture, not because auth broke.
    for name in failing:
        for check in scenarios[name]:
            message = str(check.get("errorMessage", ""))
            assert not any(word in message for word in ("401", "403", "insufficient_scope")), (
                name,
                message,
            )
    rebinding = {check["id"]: check["status"] for check in scenarios["dns-rebinding-protection"]}
    assert rebinding == {
        "localhost-host-rebinding-rejected": "SUCCESS",
        "localhost-host-valid-accepted": "SUCCESS",
    }


def _failed(checks: list[dict[str, Any]]) -> bool:
    # The suite's own rule: a FAILURE or a WARNING fails the scenario.
    return any(check["status"] in ("FAILURE", "WARNING") for check in checks)


@pytest.mark.timeout(120)
def test_the_proxy_adds_the_token_and_keeps_host_and_origin(world: World) -> None:
    with http_server(world) as server, bearer_proxy(server.port, world.token(LOCAL)) as proxy:
        direct = server.post(INITIALIZE, token=None)
        assert direct[0] == 401
        assert _post(proxy.port, "localhost")[0] == 200
        # A second request on the same connection gets the token too.
        assert [status for status, _ in _post_twice(proxy.port)] == [200, 200]
        rebound = _post(proxy.port, "evil.example.com", origin="http://evil.example.com")
        assert rebound[0] == 421, rebound
        assert proxy.seen[0].startswith(b"POST /mcp HTTP/1.1")


def _post(port: int, host: str, origin: str | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        return _send(connection, host, origin)
    finally:
        connection.close()


def _post_twice(port: int) -> list[tuple[int, bytes]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        return [_send(connection, "localhost"), _send(connection, "localhost")]
    finally:
        connection.close()


def _send(
    connection: http.client.HTTPConnection, host: str, origin: str | None = None
) -> tuple[int, bytes]:
    headers = {"Host": host, "Content-Type": "application/json", "Accept": MCP_ACCEPT}
    if origin is not None:
        headers["Origin"] = origin
    connection.request("POST", "/mcp", body=json.dumps(INITIALIZE).encode(), headers=headers)
    response = connection.getresponse()
    return response.status, response.read()
