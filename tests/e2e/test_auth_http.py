"""Authentication and authorization over HTTP, against ``orch serve --http``.

Every forged token in ``tests/token_attacks`` gets a 401 with a ``WWW-Authenticate``
challenge that points at the RFC 9728 metadata; every valid form gets through;
a token without a call's scope gets a 403 ``insufficient_scope`` naming it; a
request from a foreign web origin is refused (DNS rebinding); and a real MCP
client with a bearer token runs tools end to end.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client

from orch_core import AGENTS_MESSAGE, AuthFailureReason, Principal
from tests import audit_kit
from tests.e2e.http_server import INITIALIZE, HttpServer, http_server
from tests.e2e.test_auth_stdio import GROUPS, kit_for, write_auth
from tests.harness import ALICE, USER_SCOPES, make_world
from tests.token_attacks import Attack


@pytest.mark.parametrize(
    ("overrides", "attacks"), GROUPS, ids=[repr(o) or "local" for o, _ in GROUPS]
)
def test_every_forged_token_is_a_401_and_every_valid_form_is_served(
    tmp_path: Path, overrides: dict[str, Any], attacks: list[Attack]
) -> None:
    world = make_world(tmp_path)
    kit = kit_for(world)
    write_auth(world, kit, overrides)
    with http_server(world) as server:
        for attack in attacks:
            token = attack.make(kit)
            status, headers, body = server.post(INITIALIZE, token)
            if attack.reason is None:
                assert status == 200, f"{attack}: a valid token got {status}: {body[:200]!r}"
                continue
            assert status == 401, f"{attack}: got {status}"
            challenge = headers.get("www-authenticate", "")
            assert challenge.startswith("Bearer "), f"{attack}: {challenge!r}"
            # RFC 6750 §3.1: a request without credentials gets a challenge without an
            # error code; one with a bad token gets invalid_token.
            if attack.reason is not AuthFailureReason.MISSING:
                assert 'error="invalid_token"' in challenge, f"{attack}: {challenge}"
            assert f'resource_metadata="{metadata_url(server)}"' in challenge, challenge
            assert len(token) < 8 or token[-20:].encode() not in body
        status, headers, _ = server.post(INITIALIZE, None)
        assert status == 401 and headers["www-authenticate"].startswith("Bearer ")
    # Each bad token left an auth.failure record with its reason (a missing one is
    # not a failure: it is a client learning where to authenticate).
    reasons = [r["body"]["reason"] for r in audit_kit.records(world, "auth.failure")]
    refused = [a.reason.value for a in attacks if a.reason not in (None, AuthFailureReason.MISSING)]
    assert sorted(reasons) == sorted(refused)
    assert audit_kit.verify(world)[0] == 0


def metadata_url(server: HttpServer) -> str:
    return f"http://127.0.0.1:{server.port}/.well-known/oauth-protected-resource/mcp"


def test_protected_resource_metadata_names_the_issuer(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    with http_server(world) as server:
        status, _, body = server.request("GET", "/.well-known/oauth-protected-resource/mcp")
    assert status == 200
    metadata = json.loads(body)
    assert metadata["resource"] == server.url
    assert metadata["authorization_servers"] == ["orch-local"]
    assert "agents:message" in metadata["scopes_supported"]
    assert metadata["bearer_methods_supported"] == ["header"]


def call(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments},
    }


def test_a_call_without_its_scope_is_a_403_naming_the_scope(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    reader = Principal(subject="local:reader", scopes=USER_SCOPES - {AGENTS_MESSAGE})
    token = world.token(reader)
    with http_server(world) as server:
        message = call("send_message_to_agent", {"agent_id": "agt_0", "message": "hi"})
        status, headers, body = server.post(message, token)
        assert status == 403, body
        challenge = headers["www-authenticate"]
        assert 'error="insufficient_scope"' in challenge
        assert 'scope="agents:message"' in challenge
        assert f'resource_metadata="{metadata_url(server)}"' in challenge
        assert json.loads(body)["error"] == "insufficient_scope"
        # Starting a conversation is allowed, but not with a first message in it.
        start = call("start_new_agent_conversation", {"agent_id": "agt_0", "initial_message": "x"})
        assert server.post(start, token)[0] == 403
        # A call the token does cover is not stopped here (it reaches MCP).
        status, _, _ = server.post(INITIALIZE, token)
        assert status == 200


def test_a_request_from_a_foreign_web_origin_is_refused(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    with http_server(world) as server:
        token = world.token()
        status, _, body = server.post(INITIALIZE, token, Origin="http://evil.example")
        assert status == 403, body
        status, _, _ = server.post(INITIALIZE, token, Host="evil.example")
        assert status in {403, 421}
        assert server.post(INITIALIZE, token, Origin=f"http://127.0.0.1:{server.port}")[0] == 200


def test_an_oversized_body_is_a_413(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    with http_server(world) as server:
        huge = call("create_session", {"name": "x" * (5 * 1024 * 1024), "root_path": "/"})
        status, _, _ = server.post(huge, world.token())
    assert status == 413


async def test_a_real_client_with_a_bearer_token_runs_the_tools(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    with http_server(world) as server:
        async with Client(server.url, auth=world.token(ALICE)) as alice:
            created = await alice.call_tool(
                "create_session", {"name": "web", "root_path": str(world.project)}
            )
            session_id = created.structured_content["session_id"]  # type: ignore[index]
            agent = await alice.call_tool("create_agent", {"session_id": session_id, "name": "a"})
            agent_id = agent.structured_content["agent_id"]  # type: ignore[index]
            reply = await alice.call_tool(
                "send_message_to_agent", {"agent_id": agent_id, "message": "hi", "wait_seconds": 20}
            )
            assert reply.structured_content["status"] == "completed"  # type: ignore[index]
        bob = Principal(subject="local:bob", scopes=USER_SCOPES)
        async with Client(server.url, auth=world.token(bob)) as client:
            listed = await client.call_tool("list_sessions", {})
            assert listed.structured_content == {"sessions": []}
            refused = await client.call_tool(
                "get_session_status", {"session_id": session_id}, raise_on_error=False
            )
            assert refused.is_error
            assert refused.content[0].text.startswith("NOT_FOUND: ")  # type: ignore[union-attr]
