"""While a send waits, the client hears what the agent is doing, at least every 5 s."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest

from tests.harness import in_memory, make_world, structured


@pytest.mark.timeout(60)
async def test_progress_names_the_tools_and_arrives_every_few_seconds(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    seen: list[tuple[float, float, str | None]] = []

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
                "send_message_to_agent",
                {"agent_id": agent["agent_id"], "message": "build it\n#tools Edit,Bash\n#sleep 7"},
            )
        )
        finished = time.monotonic()
    assert result["status"] == "completed"
    messages = [m for _, _, m in seen if m]
    assert any("tool uses: Edit, Bash" in m for m in messages), messages
    assert all(m.startswith("agent builder: ") for m in messages)
    times = [started, *(t for t, _, _ in seen), finished]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert max(gaps) <= 5.0, gaps
    progress_values = [p for _, p, _ in seen]
    assert progress_values == sorted(progress_values), "progress must only increase"
