"""One agent turn as one ``claude`` process: spawn, stream, bound, and always reap.

Theory of operation: the CLI runs as the leader of its own process group
(``start_new_session``), so "stop the turn" means "stop the group" (see
:mod:`._process_group`: TERM, a grace period, KILL). When the leader exits on its
own, leftovers of its group are stopped the same way, so a turn never leaves
orphans.

Memory is bounded whatever the CLI prints (see :mod:`._child_pipes`): a line
longer than ``max_line_bytes``, or more than ``max_output_bytes`` of stdout in
all, stops the turn (stop reason ``overflow``), each line goes straight to the
sans-IO :class:`~orch_core._claude_cli.StreamParser`, and only the last
``stderr_tail_bytes`` of stderr are kept.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal

import attrs
from attrs import frozen
from returns.result import Failure, Result, Success

from orch_core import Activity, ClaudeSettings, StreamParser, TurnReport

from ._child_pipes import close_pipes, keep_tail, read_lines, write_all
from ._process_group import kill_stale_group, process_start_time, signal_group, stop_group

__all__ = ["RunningTurn", "TurnLaunch", "TurnStartError", "kill_stale_group", "start_turn"]

_DRAIN_SECONDS = 0.5  # how long stdout may stay open after the leader exited
_LEFTOVER_GRACE = 1.0  # TERM-to-KILL wait for group members left after a normal exit
_REAP_SECONDS = 5.0  # how long to wait for SIGKILLed processes to vanish
_POLL_SECONDS = 0.05

StopReason = Literal["timeout", "cancelled", "overflow"]


@frozen(kw_only=True)
class TurnLaunch:
    """Everything needed to run one turn; built by the server from core decisions."""

    argv: tuple[str, ...]
    cwd: str
    message: str
    env: Mapping[str, str]
    timeout_seconds: float
    kill_grace_seconds: float
    max_line_bytes: int
    max_reply_bytes: int
    stderr_tail_bytes: int
    #: Defaults to the setting's default, so a launch built by hand keeps the documented cap.
    max_output_bytes: int = ClaudeSettings().max_output_bytes


@frozen(kw_only=True)
class TurnStartError:
    """Why no process could be started; all of these mean ``UNAVAILABLE`` to a caller."""

    kind: Literal["not_found", "not_executable", "bad_cwd", "os_error"]
    message: str


async def start_turn(
    launch: TurnLaunch, on_activity: Callable[[Activity], None]
) -> Result[RunningTurn, TurnStartError]:
    """Spawn the CLI, hand it the message on stdin, and supervise it in a task.

    ``on_activity`` is called from the event loop for each assistant event; it must
    not raise (an exception there stops the turn and propagates from ``wait``).
    """
    command = launch.argv[0]
    if not await asyncio.to_thread(Path(launch.cwd).is_dir):
        return Failure(TurnStartError(kind="bad_cwd", message=f"no such folder: {launch.cwd}"))
    try:
        process = await asyncio.create_subprocess_exec(
            *launch.argv,
            cwd=launch.cwd,
            env=dict(launch.env),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
    except FileNotFoundError:
        return Failure(
            TurnStartError(kind="not_found", message=f"claude command not found: {command}")
        )
    except PermissionError:
        message = f"claude command is not executable: {command}"
        return Failure(TurnStartError(kind="not_executable", message=message))
    except OSError as error:
        message = f"could not start claude command {command}: {error.strerror or error}"
        return Failure(TurnStartError(kind="os_error", message=message))
    return Success(RunningTurn(launch, process, on_activity))


class RunningTurn:
    """A live turn; ``wait`` and ``cancel`` may be awaited any number of times."""

    def __init__(
        self,
        launch: TurnLaunch,
        process: asyncio.subprocess.Process,
        on_activity: Callable[[Activity], None],
    ) -> None:
        self.pid = process.pid
        self.pgid = process.pid  # a new session's leader: its pid is the group id
        self.start_time = process_start_time(process.pid)
        self.last_activity: Activity | None = None
        self.last_activity_at = time.monotonic()
        self._launch = launch
        self._process = process
        self._on_activity = on_activity
        self._parser = StreamParser(max_reply_bytes=launch.max_reply_bytes)
        self._stderr_tail = bytearray()
        self._stop = asyncio.Event()
        self._stop_reason: StopReason | None = None
        self._overflow: str | None = None
        self._task = asyncio.create_task(self._supervise(), name=f"claude-turn-{self.pid}")

    @property
    def tool_uses(self) -> int:
        """Tool calls seen so far in this turn."""
        return self._parser.tool_uses

    @property
    def saw_init(self) -> bool:
        """Whether the CLI got as far as its ``system``/``init`` event."""
        return self._parser.saw_init

    @property
    def claude_session_id(self) -> str | None:
        """The conversation id known so far (from ``init`` or ``result``)."""
        return self._parser.claude_session_id

    @property
    def done(self) -> bool:
        """Whether the report is ready (the process group is gone)."""
        return self._task.done()

    async def wait(self) -> TurnReport:
        """The report; cancelling an awaiter does not cancel the turn."""
        return await asyncio.shield(self._task)

    async def cancel(self) -> TurnReport:
        """Stop the turn (outcome ``cancelled``); a turn that already ended keeps its report."""
        self._request_stop("cancelled")
        return await self.wait()

    def _request_stop(self, reason: StopReason) -> None:
        if self._stop_reason is None and not self._task.done():
            self._stop_reason = reason
            self._stop.set()

    async def _supervise(self) -> TurnReport:
        tasks = [
            asyncio.create_task(write_all(self._process.stdin, self._launch.message.encode())),
            reader := asyncio.create_task(self._read_stdout()),
            errors := asyncio.create_task(self._read_stderr()),
            exited := asyncio.create_task(self._leader_exited()),
            stopper := asyncio.create_task(self._stop.wait()),
        ]
        try:
            reason = await self._watch(reader, exited, stopper)
            if reason is None:  # the leader exited by itself: let stdout drain, then tidy up
                await asyncio.wait({reader}, timeout=_DRAIN_SECONDS)
                grace = min(self._launch.kill_grace_seconds, _LEFTOVER_GRACE)
            else:
                grace = self._launch.kill_grace_seconds
            await stop_group(self.pgid, grace)
            await asyncio.wait({exited}, timeout=_REAP_SECONDS)
            await asyncio.wait({reader, errors}, timeout=_DRAIN_SECONDS)
            if reader.done() and not reader.cancelled():
                reader.result()  # re-raise a failure of on_activity
        except BaseException:
            signal_group(self.pgid, signal.SIGKILL)  # never leave an agent behind a crash
            raise
        finally:
            for task in tasks:
                task.cancel()
            close_pipes(self._process)
        return self._report(reason)

    async def _watch(
        self, reader: asyncio.Task[None], exited: asyncio.Task[None], stopper: asyncio.Task[bool]
    ) -> StopReason | None:
        """Wait for the leader to exit, a stop request, or the deadline."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._launch.timeout_seconds
        watched: set[asyncio.Task[object]] = {reader, exited, stopper}
        while not (exited.done() or stopper.done()):
            remaining = deadline - loop.time()
            if remaining <= 0:
                return "timeout"
            await asyncio.wait(watched, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
            if reader.done():
                reader.result()  # re-raise a failure of on_activity
                watched.discard(reader)
        if stopper.done() and (self._stop_reason == "overflow" or not exited.done()):
            return self._stop_reason
        return None

    def _report(self, reason: StopReason | None) -> TurnReport:
        code = self._process.returncode
        report = self._parser.finish(
            exit_code=-1 if code is None else code,
            stderr_tail=self._stderr_tail.decode("utf-8", "replace"),
            timed_out=reason == "timeout",
            cancelled=reason == "cancelled",
            overflow=self._overflow,  # even if the leader exited before the reader gave up
        )
        return report if code is not None else attrs.evolve(report, exit_code=None)

    async def _leader_exited(self) -> None:
        """Return once the leader is reaped, even while others still hold its pipes.

        ``Process.wait()`` also waits for stdout and stderr to close, which a
        grandchild holding them can postpone forever; ``returncode`` is set at exit.
        """
        while self._process.returncode is None:  # noqa: ASYNC110 -- see the docstring
            await asyncio.sleep(_POLL_SECONDS)

    def _take(self, line: bytes) -> None:
        activity = self._parser.feed_line(line)
        if activity is not None:
            self.last_activity = activity
            self.last_activity_at = time.monotonic()
            self._on_activity(activity)

    async def _read_stdout(self) -> None:
        stream = self._process.stdout
        assert stream is not None  # noqa: S101 -- PIPE was requested
        launch = self._launch
        end = await read_lines(
            stream, self._take, max_line=launch.max_line_bytes, max_total=launch.max_output_bytes
        )
        if end == "long_line":
            self._overflow = (
                f"a line exceeded {launch.max_line_bytes} bytes (claude.max_line_bytes)"
            )
        elif end == "too_much":
            self._overflow = (
                f"the output exceeded {launch.max_output_bytes} bytes (claude.max_output_bytes)"
            )
        if self._overflow is not None:
            self._request_stop("overflow")

    async def _read_stderr(self) -> None:
        stream = self._process.stderr
        assert stream is not None  # noqa: S101 -- PIPE was requested
        await keep_tail(stream, self._stderr_tail, self._launch.stderr_tail_bytes)
