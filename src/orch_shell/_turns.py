"""Live turns: the ``claude`` processes behind running turns, and who waits on them.

The orchestrator decides; this module only keeps the handles. A turn is *live*
from just before its process is spawned until its ending has been recorded.
``stopping`` marks turns whose ending someone else records (a delete, shutdown),
so the turn's own watcher must not record one too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping

from returns.result import Result, Success

from orch_core import (
    Activity,
    ClaudeSettings,
    LiveActivity,
    StartTurn,
    TurnId,
    TurnReport,
    agent_environment,
    build_argv,
)

from ._turn_process import RunningTurn, TurnLaunch, TurnStartError, start_turn


class LiveTurns:
    """Handles, activity and completion signals of the turns now running."""

    def __init__(
        self, *, claude: ClaudeSettings, environ: Mapping[str, str], clock: Callable[[], float]
    ) -> None:
        self._claude = claude
        self._env = agent_environment(environ, claude.env_passthrough)
        self._clock = clock
        self._handles: dict[TurnId, RunningTurn] = {}
        self._ended: dict[TurnId, asyncio.Event] = {}
        self._changed: dict[TurnId, asyncio.Event] = {}
        self.activity: dict[TurnId, LiveActivity] = {}
        self.stopping: set[TurnId] = set()

    def expect(self, turn_id: TurnId) -> None:
        """Make the completion signal exist before anyone can wait on it."""
        self._ended[turn_id] = asyncio.Event()
        self._changed[turn_id] = asyncio.Event()

    async def launch(self, effect: StartTurn) -> Result[RunningTurn, TurnStartError]:
        """Spawn the process of ``effect``'s turn."""
        argv = build_argv(
            self._claude.command,
            resume_id=effect.resume_id,
            model=effect.model,
            permission_mode=effect.permission_mode,
            role=effect.role,
        )
        launch = TurnLaunch(
            argv=argv,
            cwd=effect.cwd,
            message=effect.message,
            env=self._env,
            timeout_seconds=self._claude.turn_timeout_seconds,
            kill_grace_seconds=self._claude.kill_grace_seconds,
            max_line_bytes=self._claude.max_line_bytes,
            max_reply_bytes=self._claude.max_reply_bytes,
            stderr_tail_bytes=self._claude.stderr_tail_bytes,
            max_output_bytes=self._claude.max_output_bytes,
        )
        turn_id = effect.turn_id
        started = await start_turn(launch, lambda activity: self._on_activity(turn_id, activity))
        if isinstance(started, Success):
            self._handles[turn_id] = started.unwrap()
        return started

    def _on_activity(self, turn_id: TurnId, activity: Activity) -> None:
        handle = self._handles.get(turn_id)
        previous = self.activity.get(turn_id)
        tools = () if previous is None else previous.tools
        if activity.tool_name and activity.tool_name not in tools:
            tools = (*tools, activity.tool_name)
        self.activity[turn_id] = LiveActivity(
            description=activity.description,
            at=self._clock(),
            tool_uses=0 if handle is None else handle.tool_uses,
            tools=tools,
        )
        changed = self._changed.get(turn_id)
        if changed is not None:
            changed.set()

    def handle(self, turn_id: TurnId) -> RunningTurn | None:
        return self._handles.get(turn_id)

    def needs_stop(self, turn_id: TurnId) -> bool:
        """Whether the turn has a process that has not been stopped yet."""
        handle = self._handles.get(turn_id)
        return handle is not None and not handle.done

    def live_ids(self) -> list[TurnId]:
        return list(self._handles)

    def alive(self) -> int:
        """How many turn processes have not been reaped yet."""
        return sum(1 for handle in self._handles.values() if not handle.done)

    async def stop(self, turn_ids: list[TurnId]) -> dict[TurnId, TurnReport]:
        """Stop these turns' process groups (TERM, grace, KILL), all at once."""
        handles = {t: self._handles[t] for t in turn_ids if t in self._handles}
        self.stopping.update(handles)
        reports = await asyncio.gather(*(h.cancel() for h in handles.values()))
        return dict(zip(handles, reports, strict=True))

    def finished(self, turn_id: TurnId) -> None:
        """The turn's ending is recorded (or it is gone): wake its waiters, drop its handle."""
        self._handles.pop(turn_id, None)
        self.activity.pop(turn_id, None)
        self.stopping.discard(turn_id)
        self._changed.pop(turn_id, None)
        ended = self._ended.pop(turn_id, None)
        if ended is not None:
            ended.set()

    async def wait(self, turn_id: TurnId, seconds: float) -> bool:
        """Wait until the turn ends or something happens in it; True if it ended."""
        ended = self._ended.get(turn_id)
        if ended is None:
            return True
        changed = self._changed.get(turn_id)
        waiters = [asyncio.ensure_future(ended.wait())]
        if changed is not None:
            changed.clear()
            waiters.append(asyncio.ensure_future(changed.wait()))
        try:
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        return ended.is_set()


def monotonic() -> float:
    """The clock for deadlines (never the wall clock, which can jump)."""
    return time.monotonic()
