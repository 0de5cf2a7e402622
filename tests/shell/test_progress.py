"""While a send waits, the client hears what the agent is doing, at least every 5 s.

A 10 s fake turn that uses two tools, with a client that has a progress handler:
progress arrives with no gap over 5 s (from the call to the first notification,
between notifications, and from the last to the answer), names the agent, what it
is doing and the tools it used, and only ever increases. Here in memory (FastMCP's
client); ``tests/e2e/test_monitoring.py`` does the same over real stdio.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest

from tests.harness import in_memory, make_world, structured

MESSAGE = "build it\n#tools Edit,Bash\n#sleep 10"
Seen = list[tuple[float, float, str | None]]


def check_progress(seen: Seen, started: float, finished: float) -> None:
    assert finished - started >= 10.0, "the fake turn takes 10 s"
    messages = [m for _, _, m in seen if m]
    assert any("2 tool uses: Edit, Bash" in m for m in messages), messages
    assert any("thinking" in m for m in messages), messages
    assert all(m.startswith("agent builder: ") for m in messages), messages
    times = [started, *(t for t, _, _ in seen), finished]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert max(gaps) <= 5.0, gaps
    progress_values = [p for _, p, _ in seen]
    assert progress_values == sorted(progress_values), "progress must only increase"


@pytest.mark.timeout(60)
async def test_progress_names_the_tools_and_arrives_every_few_seconds(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    seen: Seen = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((time.monotonic(), progress, message))

    async with in_memory(world, progress_handler=on_progress) as (client, _):
        session = structured(
            await client.call_tool("create_session", {"name": "p", "root_path": str(world.project)})
        )
        agent = structured(
            await client.call_tool(
                "create_agent", {"session_id": session["session_id"], "name": "builder"}
            )
        )
        started = time.monotonic()
        result = structured(
            await client.call_tool(
                "send_message_to_agent", {"agent_id": agent["agent_id"], "message": MESSAGE}
            )
        )
        finished = time.monotonic()
    assert result["status"] == "completed"
    check_progress(seen, started, finished)
