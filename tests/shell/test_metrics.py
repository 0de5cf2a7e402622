"""``orch://metrics``: known calls in, exact counter values out.

Every call below is made through the real MCP surface (FastMCP's in-memory
client) and asserts the code the client saw; the metrics are then read as a
client would (the resource) and parsed with Prometheus' own text parser.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client
from mcp.shared.exceptions import MCPError
from prometheus_client.parser import text_string_to_metric_families
from returns.result import Result

from orch_core import METRICS_READ, AuthFailure, ModelUsage, Principal
from orch_shell._metrics import MAX_MODELS, Metrics
from orch_shell._server import build_server
from orch_shell._service import OrchService
from tests.fake_claude import COST, USAGE
from tests.harness import (
    ALICE,
    USER_SCOPES,
    World,
    in_memory,
    make_world,
    new_agent,
    send,
    structured,
    test_settings,
)

OPERATOR = Principal(subject=ALICE.subject, scopes=USER_SCOPES | {METRICS_READ})
"""ALICE, allowed to read the metrics."""

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(text: str) -> Samples:
    """Every sample of an exposition, by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float | None:
    return found.get((name, frozenset(labels.items())))


async def read_metrics(client: Client[Any]) -> Samples:
    contents = await client.read_resource("orch://metrics")
    return samples(str(contents[0].text))  # type: ignore[union-attr]


class Calls:
    """Makes calls, checks each answer's code, and counts what the metrics must show."""

    def __init__(self) -> None:
        self.expected: Counter[tuple[str, str]] = Counter()

    async def call(
        self, client: Client[Any], tool: str, args: dict[str, Any], code: str = "OK"
    ) -> dict[str, Any]:
        result = await client.call_tool(tool, args, raise_on_error=False)
        if code == "OK":
            assert not result.is_error, result.content
            answer = structured(result)
        else:
            text = result.content[0].text
            assert result.is_error and text.startswith(f"{code}: "), text
            answer = {}
        self.expected[(tool, code)] += 1
        return answer


def fixed_token_client(
    world: World, orchestrator: Any, token: str | None = None, *, broken: bool = False
) -> Client[Any]:
    """A second client on the same orchestrator (so the same metrics), whose calls
    carry ``token`` (verified by the world's real verifier), or whose
    authentication itself is broken (a bug: ``INTERNAL``)."""
    verifier = world.verifier()

    def authenticate() -> Result[Principal, AuthFailure]:
        if broken:
            raise RuntimeError("a bug in authentication")
        assert token is not None
        return verifier.verify(token, time.time())

    return Client(build_server(OrchService(orchestrator), authenticate))


@pytest.mark.timeout(90)
async def test_known_calls_give_exact_counter_values(tmp_path: Path) -> None:  # noqa: PLR0915
    world = make_world(tmp_path)
    calls = Calls()
    async with in_memory(world, principal=OPERATOR) as (client, orchestrator):
        project = str(world.project)
        session = await calls.call(client, "create_session", {"name": "s", "root_path": project})
        sid = session["session_id"]
        agent = await calls.call(client, "create_agent", {"session_id": sid, "name": "a"})
        idle = await calls.call(client, "create_agent", {"session_id": sid, "name": "idle"})
        aid = agent["agent_id"]
        await calls.call(client, "get_session_status", {"session_id": sid})
        await calls.call(client, "list_sessions", {})
        # A completed turn of known cost (the fake's), then one on a resumed
        # conversation whose CLI reports the running total: still one turn's cost.
        for message in ("hello", "again\n#cumulative-cost"):
            sent = await calls.call(
                client, "send_message_to_agent", {"agent_id": aid, "message": message}
            )
            assert sent["status"] == "completed" and sent["cost_usd"] == COST
        failed = await calls.call(
            client, "send_message_to_agent", {"agent_id": aid, "message": "#exit 1 boom"}
        )
        assert failed["status"] == "failed"
        # Each error code a call can answer with.
        await calls.call(
            client, "create_session", {"name": "s", "root_path": project}, "NAME_TAKEN"
        )
        await calls.call(
            client, "create_session", {"name": "r", "root_path": "rel"}, "INVALID_ARGUMENT"
        )
        await calls.call(
            client, "create_session", {"name": "t", "root_path": "/"}, "PATH_NOT_ALLOWED"
        )
        await calls.call(
            client,
            "create_session",
            {"name": "l", "root_path": project, "description": "x" * 5000},
            "LIMIT_EXCEEDED",
        )
        await calls.call(client, "get_session_status", {"session_id": "ses_nope"}, "NOT_FOUND")
        running = await calls.call(
            client,
            "send_message_to_agent",
            {"agent_id": idle["agent_id"], "message": "#hang", "wait_seconds": 0},
        )
        assert running["status"] == "running"
        during = await read_metrics(client)
        await calls.call(
            client,
            "send_message_to_agent",
            {"agent_id": idle["agent_id"], "message": "x"},
            "AGENT_BUSY",
        )
        await calls.call(client, "delete_session", {"session_id": sid}, "SESSION_BUSY")
        async with fixed_token_client(world, orchestrator, world.token(ALICE, ttl=-60)) as expired:
            await calls.call(expired, "list_sessions", {}, "UNAUTHENTICATED")
        reader = Principal(subject=ALICE.subject, scopes={METRICS_READ})
        async with fixed_token_client(world, orchestrator, world.token(reader)) as narrow:
            await calls.call(narrow, "list_sessions", {}, "PERMISSION_DENIED")
        async with fixed_token_client(world, orchestrator, broken=True) as buggy:
            await calls.call(buggy, "list_sessions", {}, "INTERNAL")
        await calls.call(client, "delete_session", {"session_id": sid, "force": True})
        orchestrator.accepting = False  # what shutdown does first
        await calls.call(
            client, "create_session", {"name": "u", "root_path": project}, "UNAVAILABLE"
        )
        found = await read_metrics(client)

    for (tool, code), count in calls.expected.items():
        assert value(found, "orch_tool_calls_total", tool=tool, code=code) == count, (tool, code)
    counted = sum(v for (n, _), v in found.items() if n == "orch_tool_calls_total")
    assert counted == sum(calls.expected.values())
    for tool in {tool for tool, _ in calls.expected}:
        made = sum(n for (t, _), n in calls.expected.items() if t == tool)
        assert value(found, "orch_tool_call_duration_seconds_count", tool=tool) == made
    assert value(found, "orch_turns_started_total") == 4
    assert value(found, "orch_turns_total", status="completed") == 2
    assert value(found, "orch_turns_total", status="failed") == 1
    assert value(found, "orch_turns_total", status="cancelled") == 1
    assert value(found, "orch_turn_duration_seconds_count", status="completed") == 2
    assert value(found, "orch_agent_cost_usd_total", model="fake-model") == pytest.approx(2 * COST)
    for kind, key in (("input", "input_tokens"), ("output", "output_tokens"),
                      ("cache_read", "cache_read_input_tokens"),
                      ("cache_creation", "cache_creation_input_tokens")):  # fmt: skip
        tokens = value(found, "orch_agent_tokens_total", model="fake-model", kind=kind)
        assert tokens == 2 * USAGE[key], kind
    assert value(found, "orch_auth_failures_total", reason="expired") == 1
    assert value(found, "orch_rate_limited_total") == 0  # issue 6 adds rate limits
    assert value(during, "orch_turns_running") == 1
    assert value(during, "orch_subprocesses_alive") == 1
    assert value(found, "orch_turns_running") == 0
    assert value(found, "orch_subprocesses_alive") == 0
    assert value(found, "orch_store_operation_duration_seconds_count", operation="load") == 1
    assert (value(found, "orch_store_operation_duration_seconds_count", operation="apply") or 0) > 0
    assert value(found, "orch_store_errors_total") == 0
    assert value(found, "orch_resource_reads_total", resource="metrics", code="OK") == 1
    assert value(found, "orch_build_info", version="test") == 1


async def test_metrics_need_their_own_scope(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    async with in_memory(world) as (client, _):  # ALICE: every scope but metrics and admin
        with pytest.raises(MCPError, match=r"PERMISSION_DENIED: .*'metrics:read'"):
            await client.read_resource("orch://metrics")
        with pytest.raises(MCPError, match=r"PERMISSION_DENIED: .*'metrics:read'"):
            await client.read_resource("orch://health")


async def test_unknown_tools_and_models_do_not_grow_the_label_sets(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    async with in_memory(world, principal=OPERATOR) as (client, orchestrator):
        for index in range(3):
            result = await client.call_tool(f"no_such_tool_{index}", {}, raise_on_error=False)
            assert result.is_error
        found = await read_metrics(client)
    assert value(found, "orch_tool_calls_total", tool="other", code="PERMISSION_DENIED") == 3
    assert not any(dict(labels).get("tool", "").startswith("no_such") for _, labels in found)
    metrics = orchestrator.metrics
    for index in range(MAX_MODELS + 5):
        metrics._spent(ModelUsage(model=f"model-{index}", cost_usd=1.0))
    models = {
        dict(labels)["model"]
        for name, labels in samples(metrics.render().decode())
        if name == "orch_agent_cost_usd_total"
    }
    assert len(models) == MAX_MODELS + 1 and "other" in models


def test_metrics_off_record_nothing() -> None:
    metrics = Metrics.off()
    metrics.tool_call("list_sessions", "OK", 0.1)
    metrics.auth_failure("expired")
    found = samples(metrics.render().decode())
    assert value(found, "orch_tool_calls_total", tool="list_sessions", code="OK") is None
    assert value(found, "orch_auth_failures_total", reason="expired") is None


@pytest.mark.timeout(60)
async def test_a_timed_out_turn_is_counted_as_timeout(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    settings = test_settings(world, turn_timeout_seconds=1.0)
    async with in_memory(world, settings, principal=OPERATOR) as (client, _):
        _, agent_id = await new_agent(client, world)
        sent = await send(client, agent_id, "#hang", wait=20)
        found = await read_metrics(client)
    assert (sent["turn_status"], sent["error_code"]) == ("timeout", "TURN_TIMEOUT")
    assert value(found, "orch_turns_total", status="timeout") == 1
    assert value(found, "orch_turn_duration_seconds_count", status="timeout") == 1
    assert value(found, "orch_tool_calls_total", tool="send_message_to_agent", code="OK") == 1
