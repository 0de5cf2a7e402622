"""The user's story over real stdio, with each of the three real clients.

``orch serve`` runs as a subprocess with the fake ``claude``; the scenario is the
issue's acceptance walk-through: two agents working in parallel, a continued
conversation, a cleared one, a new one with the old archived, an agent deleted
mid-turn (its whole process group gone), and the session deleted.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.clients import CLIENT_KINDS, Caller, connect
from tests.harness import EXPECTED_TOOLS, World, make_world, read_pid, wait_gone


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


async def ok(caller: Caller, tool: str, **args: Any) -> dict[str, Any]:
    is_error, payload = await caller.call(tool, args)
    assert not is_error, f"{tool}({args}) failed: {payload}"
    assert isinstance(payload, dict)
    return payload


async def poll_status(
    caller: Caller, session_id: str, done: Any, within: float = 20.0
) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        status = await ok(caller, "get_session_status", session_id=session_id)
        if done(status):
            return status
        assert time.monotonic() < deadline, f"status never settled: {json.dumps(status)[:2000]}"
        await asyncio.sleep(0.2)


def agent(status: dict[str, Any], agent_id: str) -> dict[str, Any]:
    return next(a for a in status["agents"] if a["agent_id"] == agent_id)


@pytest.mark.timeout(90)
@pytest.mark.parametrize("kind", CLIENT_KINDS)
async def test_tools_are_listed_with_schemas(kind: str, world: World) -> None:
    async with connect(kind, world) as caller:
        tools = {t.name: t for t in await caller.tools()}
    assert set(tools) == EXPECTED_TOOLS
    for tool in tools.values():
        schema = tool.input_schema
        assert schema["type"] == "object"
        for name, prop in schema.get("properties", {}).items():
            assert prop.get("description"), f"{tool.name}.{name} has no description"
        assert tool.output_schema and tool.output_schema["type"] == "object", tool.name
        assert tool.description
        hints = tool.annotations
        assert hints is not None
        assert hints.read_only_hint is not None and hints.destructive_hint is not None
        assert hints.idempotent_hint is not None
    assert tools["get_session_status"].annotations.read_only_hint is True
    assert tools["delete_session"].annotations.destructive_hint is True
    send = tools["send_message_to_agent"].input_schema["properties"]["wait_seconds"]
    assert (send["minimum"], send["maximum"], send["default"]) == (0, 600, 25)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", CLIENT_KINDS)
async def test_the_whole_story(kind: str, world: World) -> None:  # noqa: PLR0915 - one story
    async with connect(kind, world) as caller:
        session = await ok(
            caller,
            "create_session",
            name="webapp",
            root_path=str(world.project),
            description="demo",
        )
        sid = session["session_id"]
        assert sid.startswith("ses_") and session["root_path"] == str(world.project.resolve())
        writer = await ok(caller, "create_agent", session_id=sid, name="writer", role="You write.")
        critic = await ok(
            caller, "create_agent", session_id=sid, name="critic", permission_mode="plan"
        )
        wid, cid = writer["agent_id"], critic["agent_id"]
        assert wid.startswith("agt_") and writer["state"] == "idle"

        # Both at once, without waiting: each turn takes a second, in parallel.
        started = time.monotonic()
        for aid, text in ((wid, "draft the intro"), (cid, "review the plan")):
            sent = await ok(
                caller,
                "send_message_to_agent",
                agent_id=aid,
                message=f"{text}\n#sleep 1",
                wait_seconds=0,
            )
            assert sent["status"] == "running" and sent["turn_id"].startswith("trn_")
        status = await poll_status(
            caller,
            sid,
            lambda s: all(a["state"] == "idle" and a["last_reply"] for a in s["agents"]),
        )
        assert time.monotonic() - started < 10
        assert agent(status, wid)["last_reply"]["reply"] == "turn 1: draft the intro"
        assert agent(status, cid)["last_reply"]["reply"] == "turn 1: review the plan"
        assert status["totals"]["turns"] == 2 and status["totals"]["cost_usd"] == pytest.approx(
            0.025
        )

        # The writer's conversation continues: the fake sees turn 2 of the same id.
        second = await ok(caller, "send_message_to_agent", agent_id=wid, message="now the outro")
        assert second["status"] == "completed" and second["reply"] == "turn 2: now the outro"
        first_conversation = second["conversation_id"]

        # Cleared: the next turn is turn 1 of a new conversation, the old transcript gone.
        cleared = await ok(caller, "clear_agent_conversation", agent_id=wid)
        assert cleared["previous_conversation_id"] == first_conversation
        third = await ok(caller, "send_message_to_agent", agent_id=wid, message="start over")
        assert third["reply"] == "turn 1: start over"
        assert third["conversation_id"] == cleared["conversation_id"] != first_conversation
        transcript = json.loads(await caller.read(f"orch://agents/{wid}/transcript"))
        assert [t["reply"] for t in transcript["turns"]] == ["turn 1: start over"]

        # A new conversation with a first message; the old one is archived and readable.
        fresh = await ok(
            caller, "start_new_agent_conversation", agent_id=wid, initial_message="hello again"
        )
        assert fresh["first_turn"]["reply"] == "turn 1: hello again"
        assert fresh["previous_conversation"] == "archived"
        status = await ok(caller, "get_session_status", session_id=sid)
        archived = agent(status, wid)["archived_conversations"]
        assert [c["conversation_id"] for c in archived] == [third["conversation_id"]]
        old = json.loads(
            await caller.read(f"orch://conversations/{third['conversation_id']}/transcript")
        )
        assert old["status"] == "archived" and old["turns"][0]["message"] == "start over"
        assert agent(status, wid)["totals"]["turns"] == 4

        listed = await ok(caller, "list_sessions")
        assert [(s["session_id"], s["agent_count"]) for s in listed["sessions"]] == [(sid, 2)]
        assert [(a["name"], a["state"]) for a in listed["sessions"][0]["agents"]] == [
            ("writer", "idle"),
            ("critic", "idle"),
        ]

        # Delete an agent in the middle of a turn that ignores SIGTERM and left a
        # grandchild behind: the whole process group is gone within 6 s.
        hanging = "#hang\n#ignore-term\n#grandchild-ignore-term\n#pidfile"
        sent = await ok(
            caller, "send_message_to_agent", agent_id=cid, message=hanging, wait_seconds=0
        )
        assert sent["status"] == "running"
        fake = read_pid(world.fake_state / "pid")
        grandchild = read_pid(world.fake_state / "grandchild.pid")
        started = time.monotonic()
        deleted = await ok(caller, "delete_agent", agent_id=cid)
        assert deleted["deleted_agent_ids"] == [cid] and deleted["cancelled_turn_ids"] == [
            sent["turn_id"]
        ]
        assert wait_gone([fake, grandchild], timeout=6 - (time.monotonic() - started)) == []
        assert time.monotonic() - started < 6

        gone = await caller.call("send_message_to_agent", {"agent_id": cid, "message": "hi"})
        assert gone[0] and gone[1].startswith("NOT_FOUND")

        removed = await ok(caller, "delete_session", session_id=sid)
        assert removed["deleted_session_ids"] == [sid] and removed["deleted_agent_ids"] == [wid]
        assert world.project.is_dir(), "deleting a session never touches files"
        assert (await ok(caller, "list_sessions"))["sessions"] == []
