"""The walk both MCP Inspector command lines take through orch (``inspectors.py``):
every tool, tool errors, the resource lists and every resource.

Each helper call is one inspector run, so one ``orch serve`` process.
"""

from __future__ import annotations

import json
from typing import Any

from tests.e2e.inspectors import Inspector
from tests.harness import EXPECTED_TOOLS, World


def ok(inspector: Inspector, world: World, tool: str, **args: Any) -> dict[str, Any]:
    """Call ``tool``; it must succeed. Its structured result, checked against the text."""
    answer = inspector.call(world, tool, **args)
    assert answer.code == 0, answer
    assert answer.result["isError"] is False, answer.result
    structured = dict(answer.result["structuredContent"])
    assert json.loads(answer.text) == structured
    return structured


def failed(inspector: Inspector, world: World, tool: str, **args: Any) -> str:
    """Call ``tool``; it must be a tool error. Its text."""
    answer = inspector.call(world, tool, **args)
    assert answer.code == inspector.tool_error_exit, answer
    assert answer.result["isError"] is True, answer.result
    assert "structuredContent" not in answer.result
    return answer.text


def read(inspector: Inspector, world: World, uri: str) -> dict[str, Any]:
    """``resources/read``: the one content item."""
    answer = inspector.run(world, "--method", "resources/read", "--uri", uri)
    (content,) = answer.result["contents"]
    assert content["uri"] == uri
    return dict(content)


def check_tool_list(inspector: Inspector, world: World) -> None:
    listed = inspector.run(world, "--method", "tools/list").result["tools"]
    assert sorted(tool["name"] for tool in listed) == sorted(EXPECTED_TOOLS)
    for tool in listed:
        assert tool["inputSchema"]["type"] == "object", tool["name"]
        assert tool["outputSchema"]["type"] == "object", tool["name"]
        assert tool["description"], tool["name"]


def check_resource_lists(inspector: Inspector, world: World) -> None:
    resources = inspector.run(world, "--method", "resources/list").result["resources"]
    assert sorted(item["uri"] for item in resources) == ["orch://health", "orch://metrics"]
    templates = inspector.run(world, "--method", "resources/templates/list").result
    assert sorted(item["uriTemplate"] for item in templates["resourceTemplates"]) == [
        "orch://agents/{agent_id}/transcript",
        "orch://conversations/{conversation_id}/transcript",
    ]
    health = read(inspector, world, "orch://health")
    assert health["mimeType"] == "application/json"
    assert json.loads(health["text"])["checks"]["store"]["status"] == "ok"
    metrics = read(inspector, world, "orch://metrics")
    assert "orch_build_info" in metrics["text"]


def walk_every_tool(inspector: Inspector, world: World) -> None:
    """Each of the nine tools once (a send twice), errors, and both transcripts."""
    session = ok(inspector, world, "create_session", name="webapp", root_path=str(world.project))
    sid = session["session_id"]
    assert sid.startswith("ses_") and session["root_path"] == str(world.project.resolve())
    taken = failed(inspector, world, "create_session", name="webapp", root_path=str(world.project))
    assert taken.startswith("NAME_TAKEN"), taken
    relative = failed(inspector, world, "create_session", name="x", root_path="relative/dir")
    assert relative.startswith("INVALID_ARGUMENT") and "root_path" in relative, relative

    made = ok(inspector, world, "create_agent", session_id=sid, name="writer", role="You write.")
    aid = made["agent_id"]
    assert aid.startswith("agt_") and made["name"] == "writer"

    sent = ok(
        inspector, world, "send_message_to_agent", agent_id=aid, message="Draft it", wait_seconds=60
    )
    assert (sent["status"], sent["turn_number"]) == ("completed", 1)
    assert sent["reply"] == "turn 1: Draft it"
    first_conversation = sent["conversation_id"]
    again = ok(
        inspector, world, "send_message_to_agent", agent_id=aid, message="More", wait_seconds=60
    )
    assert (again["reply"], again["conversation_id"]) == ("turn 2: More", first_conversation)

    status = ok(inspector, world, "get_session_status", session_id=sid)
    (writer,) = status["agents"]
    assert writer["state"] == "idle" and writer["last_reply"]["reply"] == "turn 2: More"
    assert status["totals"]["turns"] == 2
    listed = ok(inspector, world, "list_sessions")
    assert [item["session_id"] for item in listed["sessions"]] == [sid]

    transcript = json.loads(read(inspector, world, f"orch://agents/{aid}/transcript")["text"])
    assert [turn["reply"] for turn in transcript["turns"]] == ["turn 1: Draft it", "turn 2: More"]

    fresh = ok(
        inspector,
        world,
        "start_new_agent_conversation",
        agent_id=aid,
        initial_message="Review it",
        wait_seconds=60,
    )
    assert fresh["previous_conversation_id"] == first_conversation
    assert fresh["previous_conversation"] == "archived"
    assert fresh["first_turn"]["reply"] == "turn 1: Review it"
    archived = read(inspector, world, f"orch://conversations/{first_conversation}/transcript")
    assert len(json.loads(archived["text"])["turns"]) == 2

    cleared = ok(inspector, world, "clear_agent_conversation", agent_id=aid)
    assert cleared["previous_conversation_id"] == fresh["conversation_id"]
    assert cleared["previous_conversation"] == "discarded"
    assert cleared["conversation_id"] not in (first_conversation, fresh["conversation_id"])

    missing = failed(inspector, world, "get_session_status", session_id="ses_0000000000000000")
    assert missing.startswith("NOT_FOUND") and "ses_0000000000000000" in missing, missing
    check_resource_lists(inspector, world)

    gone = ok(inspector, world, "delete_agent", agent_id=aid)
    assert aid in json.dumps(gone)
    assert failed(inspector, world, "delete_agent", agent_id=aid).startswith("NOT_FOUND")
    deleted = ok(inspector, world, "delete_session", session_id=sid)
    assert deleted["deleted_session_ids"] == [sid]
    assert ok(inspector, world, "list_sessions")["sessions"] == []
