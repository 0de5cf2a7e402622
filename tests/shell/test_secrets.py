"""Secrets stay in the server: errors, agents' environment and argv.

* An unexpected failure reaches the client as ``INTERNAL: internal error (ref
  X)`` only; the detail and traceback go to the server log under the same ref.
* An agent (the fake ``claude`` dumping its environment and argv) never sees the
  server's token, the token file's path, a key path, or any ``ORCH_*`` variable,
  though the server itself runs with all of them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import structlog
from fastmcp import Client
from mcp.shared.exceptions import MCPError
from returns.result import Result

from orch_core import AuthFailure, Principal
from orch_shell._paths import resolve_paths
from orch_shell._server import build_server
from orch_shell._service import OrchService
from tests.e2e.clients import connect
from tests.harness import error_text, in_memory, make_world

SECRET_DETAIL = "database key at /srv/orch/keys/token_signing.pem"  # noqa: S105 - a fake
REF = re.compile(r"^INTERNAL: internal error \(ref ([0-9a-f]+)\)$")


def exploding() -> Result[Principal, AuthFailure]:
    raise RuntimeError(SECRET_DETAIL)


@pytest.mark.parametrize("kind", ["tool", "resource"])
async def test_an_internal_failure_shows_only_a_ref_and_the_log_has_the_detail(
    tmp_path: Path, kind: str
) -> None:
    world = make_world(tmp_path)
    async with in_memory(world) as (_alice, orchestrator):
        server = build_server(OrchService(orchestrator), exploding)
        with structlog.testing.capture_logs() as logs:
            async with Client(server) as client:
                if kind == "tool":
                    result = await client.call_tool("list_sessions", {}, raise_on_error=False)
                    text = error_text(result)
                else:
                    with pytest.raises(MCPError) as raised:
                        await client.read_resource("orch://agents/agt_0000000000000000/transcript")
                    text = str(raised.value)
    match = REF.match(text)
    assert match, f"not a bare INTERNAL ref: {text!r}"
    assert "srv" not in text and "RuntimeError" not in text
    logged = [entry for entry in logs if entry.get("ref") == match.group(1)]
    assert logged, f"ref {match.group(1)} not in the server log: {logs}"
    assert SECRET_DETAIL in repr(logged[0]["exc_info"])


async def test_the_agent_never_sees_the_token_its_file_or_keys(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    token = world.token_file.read_text().strip()
    paths = resolve_paths({"ORCH_HOME": str(world.data)})
    async with connect(
        "mcp-sdk-stdio",
        world,
        ORCH_LOG_LEVEL="debug",
        ORCH_EXTRA_SECRET="orch-private-value",  # noqa: S106 - a fake, to be kept out
        ANTHROPIC_API_KEY="sk-ant-test",  # an agent credential: must pass
    ) as caller:
        failed, session = await caller.call(
            "create_session", {"name": "s", "root_path": str(world.project)}
        )
        assert not failed, session
        failed, agent = await caller.call(
            "create_agent", {"session_id": session["session_id"], "name": "a"}
        )
        assert not failed, agent
        failed, reply = await caller.call(
            "send_message_to_agent",
            {"agent_id": agent["agent_id"], "message": "#dump-env", "wait_seconds": 20},
        )
        assert not failed and reply["status"] == "completed", reply
    dumps = list(world.fake_state.glob("env-*.json"))
    assert len(dumps) == 1
    dump: dict[str, Any] = json.loads(dumps[0].read_text())
    seen = json.dumps([dump["env"], dump["argv"]])
    assert dump["env"]["ANTHROPIC_API_KEY"] == "sk-ant-test", "the allow-list dropped too much"
    assert not [name for name in dump["env"] if name.startswith("ORCH_")]
    for secret in (
        token,
        token.split(".")[2],  # even the signature alone
        str(world.token_file),
        str(paths.signing_key),
        str(paths.keys_dir),
        "orch-private-value",
    ):
        assert secret not in seen, f"{secret[:20]}... reached the agent"
