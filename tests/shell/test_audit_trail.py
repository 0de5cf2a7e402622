"""What the audit trail records for each kind of MCP interaction (in memory, real SQLite).

Decision before, outcome after; refusals with their code; ids created and
deleted; texts redacted unless the policy keeps them; checkpoints by count and
by time, copied to the checkpoint file.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import stat
from pathlib import Path
from typing import Any

import attrs
import pytest

from orch_core import AuditSettings, Limits
from tests import audit_kit
from tests.harness import World, in_memory, make_world, new_agent, test_settings


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


def bodies(world: World, kind: str) -> list[dict[str, Any]]:
    return [r["body"] for r in audit_kit.records(world, kind)]


async def test_a_change_has_an_allowed_decision_then_an_outcome_naming_its_ids(
    world: World,
) -> None:
    async with in_memory(world) as (client, _):
        session, agent = await new_agent(client, world)
        await client.call_tool("delete_agent", {"agent_id": agent})
    kinds = [r["kind"] for r in audit_kit.records(world) if r["kind"].startswith("tool.")]
    assert kinds == ["tool.decision", "tool.outcome"] * 3
    assert audit_kit.records(world)[-1]["kind"] == "server.stop"
    outcomes = bodies(world, "tool.outcome")
    assert [o["tool"] for o in outcomes] == ["create_session", "create_agent", "delete_agent"]
    assert outcomes[0]["created"] == [session]
    assert outcomes[1]["created"][0] == agent
    assert outcomes[2]["deleted"] == [agent]
    assert all(o["code"] == "OK" and o["duration_us"] > 0 for o in outcomes)
    decisions = audit_kit.decisions(world)
    assert [d["request_id"] for d in decisions] == [o["request_id"] for o in outcomes]
    assert all(d["decision"] == "allowed" and d["principal"]["subject"] for d in decisions)


async def test_an_allowed_call_that_fails_has_its_code_in_the_outcome(world: World) -> None:
    async with in_memory(world) as (client, _):
        await client.call_tool(
            "get_session_status", {"session_id": "ses_0000000000000000"}, raise_on_error=False
        )
    (decision,) = audit_kit.decisions(world, "get_session_status")
    assert decision["decision"] == "allowed"
    (outcome,) = bodies(world, "tool.outcome")
    assert outcome["code"] == "NOT_FOUND"


async def test_a_schema_refusal_is_a_refused_decision_with_no_outcome(world: World) -> None:
    async with in_memory(world) as (client, _):
        await client.call_tool("get_session_status", {"session_id": 5}, raise_on_error=False)
    (decision,) = audit_kit.decisions(world)
    assert (decision["decision"], decision["code"]) == ("refused", "INVALID_ARGUMENT")
    assert decision["arguments"] == {"session_id": 5}
    assert bodies(world, "tool.outcome") == []


async def test_a_rate_limited_call_is_a_refused_decision(world: World) -> None:
    settings = attrs.evolve(test_settings(world), limits=Limits(read_per_minute=1, read_burst=1))
    async with in_memory(world, settings) as (client, _):
        await client.call_tool("list_sessions", {})
        refused = await client.call_tool("list_sessions", {}, raise_on_error=False)
    assert refused.is_error
    first, second = audit_kit.decisions(world, "list_sessions")
    assert first["decision"] == "allowed"
    assert (second["decision"], second["code"]) == ("refused", "RATE_LIMITED")
    assert second["principal"]["subject"] == "local:alice"


async def test_texts_are_kept_as_length_and_digest_unless_the_policy_keeps_them(
    world: World,
) -> None:
    text = "a private message ✓"
    digest = {"bytes": len(text.encode()), "sha256": hashlib.sha256(text.encode()).hexdigest()}
    for keep, expected in [(False, digest), (True, text)]:
        settings = attrs.evolve(test_settings(world), audit=AuditSettings(keep_texts=keep))
        async with in_memory(world, settings) as (client, _):
            await client.call_tool(
                "create_session",
                {"name": f"s{keep}", "root_path": str(world.project), "description": text},
            )
        recorded = audit_kit.decisions(world, "create_session")[-1]["arguments"]["description"]
        assert recorded == expected


async def test_a_transcript_read_is_recorded_with_who_read_what(world: World) -> None:
    async with in_memory(world) as (client, _):
        _, agent = await new_agent(client, world)
        await client.read_resource(f"orch://agents/{agent}/transcript")
    (read,) = bodies(world, "resource.read")
    assert read["uri"] == f"orch://agents/{agent}/transcript"
    assert read["code"] == "OK"
    assert read["principal"]["subject"] == "local:alice"


async def test_checkpoints_come_every_n_records_and_go_to_the_file(world: World) -> None:
    settings = attrs.evolve(
        test_settings(world),
        audit=AuditSettings(checkpoint_every_records=5),
        limits=Limits(read_per_minute=0),
    )
    async with in_memory(world, settings) as (client, _):
        for _ in range(6):
            await client.call_tool("list_sessions", {})  # 2 records each
    lines = (world.data / "audit-checkpoints.jsonl").read_text().splitlines()
    sealed = [json.loads(line)["seq"] for line in lines]
    assert sealed[:2] == [5, 10]
    assert sealed[-1] == len(audit_kit.records(world))  # sealed at shutdown
    mode = stat.S_IMODE((world.data / "audit-checkpoints.jsonl").stat().st_mode)
    assert mode == 0o600
    assert audit_kit.verify(world)[0] == 0


async def test_the_sealer_seals_new_records_within_its_interval(world: World) -> None:
    settings = attrs.evolve(test_settings(world), audit=AuditSettings(checkpoint_every_seconds=0.1))
    async with in_memory(world, settings) as (client, orchestrator):
        audit = orchestrator.audit
        assert audit is not None
        sealer = asyncio.create_task(audit.run_sealer())
        await client.call_tool("list_sessions", {})
        assert audit.unsealed >= 2
        for _ in range(50):
            await asyncio.sleep(0.05)
            if not audit.unsealed:
                break
        sealer.cancel()
        assert audit.unsealed == 0
        assert audit.unsealed_since() is None
