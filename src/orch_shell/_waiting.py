"""Waiting for a turn on behalf of a client, and telling it what the agent is doing.

A send waits at most ``wait_seconds``; meanwhile it wakes whenever the agent does
something (or every ``PROGRESS_INTERVAL_SECONDS``) and reports progress, so a
client hears from a long turn at least that often.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import attrs

from orch_core import TurnId, TurnResult, TurnStatus, turn_result

from ._orchestrator import Orchestrator
from ._turns import monotonic

#: Called with a progress message and the seconds elapsed, while a send waits.
Progress = Callable[[str, float], Awaitable[None]]

#: A client is told what the agent does at least this often while it waits.
PROGRESS_INTERVAL_SECONDS = 2.5


async def wait_for_turn(
    orch: Orchestrator, turn_id: TurnId, wait_seconds: float, progress: Progress | None
) -> TurnResult:
    """The turn as it stands when it ends or ``wait_seconds`` pass, whichever is first."""
    start = monotonic()
    deadline = start + wait_seconds
    last = orch.state.turns[turn_id]
    last_progress = start
    while True:
        turn = orch.state.turns.get(turn_id)
        if turn is None:  # deleted with its agent while we waited
            last = attrs.evolve(
                last, status=TurnStatus.CANCELLED, error="the agent was deleted while this turn ran"
            )
            break
        last = turn
        remaining = deadline - monotonic()
        if turn.status is not TurnStatus.RUNNING or remaining <= 0:
            break
        await orch.live.wait(turn_id, min(remaining, PROGRESS_INTERVAL_SECONDS))
        now = monotonic()
        if progress is not None and now - last_progress >= 1.0:
            last_progress = now
            await progress(describe(orch, turn_id, now - start), now - start)
    return turn_result(last, now=orch.clock())


def describe(orch: Orchestrator, turn_id: TurnId, elapsed: float) -> str:
    """``agent writer: using tool Edit (3 tool uses: Read, Edit; 12 s)``."""
    activity = orch.live.activity.get(turn_id)
    turn = orch.state.turns.get(turn_id)
    agent = None if turn is None else orch.state.agents.get(turn.agent_id)
    who = "agent" if agent is None else f"agent {agent.name}"
    if activity is None:
        return f"{who}: starting ({elapsed:.0f} s)"
    tools = f": {', '.join(activity.tools)}" if activity.tools else ""
    counts = f"{activity.tool_uses} tool uses{tools}; {elapsed:.0f} s"
    return f"{who}: {activity.description} ({counts})"
