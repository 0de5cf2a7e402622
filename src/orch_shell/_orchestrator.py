"""The orchestrator: the one place where decisions become durable and effects happen.

Every change follows the same path (STYLE: decide, then evolve):

1. ``decide`` on the current state, under one lock (a single writer);
2. if the decision stops turns, stop their process groups *outside* the lock,
   then decide again (the world may have moved on while we waited);
3. record the events in the store (one transaction), evolve the in-memory state;
4. start the turns the decision starts, still under the lock, so no other
   command can see a running turn that has no process yet.

A store failure leaves both the file and the memory as they were and becomes
``UNAVAILABLE``; nothing is half-done.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable

import attrs
import structlog
from returns.result import Failure, Result, Success

from orch_core import (
    AuditKind,
    CancelTurn,
    Command,
    Decision,
    EndTurn,
    ErrorCode,
    OrchError,
    Policy,
    ProcessInfo,
    RecordProcess,
    Settings,
    StartTurn,
    State,
    StopTurn,
    TurnId,
    TurnOutcome,
    TurnStatus,
    changed_ids,
    decide,
    replay,
)

from ._audit_calls import current_call
from ._audit_log import AuditLog
from ._metrics import Metrics
from ._process_group import kill_stale_group
from ._store import Store, StoreError
from ._turn_endings import end_turn_command
from ._turn_process import RunningTurn
from ._turns import LiveTurns

log = structlog.get_logger("orch.orchestrator")

SHUTTING_DOWN = OrchError(code=ErrorCode.UNAVAILABLE, message="the orch server is shutting down")

#: How often a turn ending the store refused is tried again.
UNSAVED_RETRY_SECONDS = 1.0


@attrs.frozen(kw_only=True)
class Applied:
    """A decision that was recorded, with the state it was decided on."""

    decision: Decision
    before: State


class Orchestrator:
    """Owns the state, the store and the live turns; tools call :meth:`execute`."""

    def __init__(
        self,
        *,
        store: Store,
        settings: Settings,
        policy: Policy,
        live: LiveTurns,
        clock: Callable[[], float],
        metrics: Metrics | None = None,
        audit: AuditLog | None = None,
    ) -> None:
        self.metrics = metrics or Metrics.off()
        self.audit = audit
        """The audit log; each tool call's change is recorded with its outcome."""
        self._store = store
        started = time.perf_counter()
        self._state = store.load()
        self.metrics.store_operation("load", time.perf_counter() - started)
        self.settings = settings
        self.policy = policy
        self.live = live
        self.clock = clock
        self._lock = asyncio.Lock()
        self._watchers: set[asyncio.Task[None]] = set()
        self.accepting = True
        self.closing = False
        """Set when the server starts to stop (a signal, stdin closing): from then on
        a cancelled wait is the server's doing, and shutdown records the turn."""
        self._unsaved: dict[TurnId, EndTurn] = {}
        """Turn endings the store refused; retried until saved (see ``_record_end``)."""
        self._retrying: asyncio.Task[None] | None = None

    @property
    def state(self) -> State:
        """The current state (an immutable value: safe to read at any time)."""
        return self._state

    async def execute(self, command: Command) -> Result[Applied, OrchError]:
        """Decide ``command``, stop what must stop, record, then start turns."""
        for _ in range(5):
            async with self._lock:
                if not self.accepting:  # shutdown has begun: it stops what runs now
                    return Failure(SHUTTING_DOWN)
                self._save_unsaved()
                decided = decide(self._state, command, self.policy)
                if isinstance(decided, Failure):
                    return Failure(decided.failure())
                decision = decided.unwrap()
                stops = [e.turn_id for e in decision.effects if isinstance(e, StopTurn)]
                pending = [t for t in stops if self.live.needs_stop(t)]
                if not pending:
                    before = self._state
                    committed = self._commit(decision)
                    if isinstance(committed, Failure):
                        return Failure(committed.failure())
                    for turn_id in stops:
                        self.live.finished(turn_id)
                    await self._start_turns(decision)
                    return Success(Applied(decision=decision, before=before))
            await self.live.stop(pending)
        return Failure(OrchError(code=ErrorCode.UNAVAILABLE, message="the server is busy; retry"))

    @property
    def store(self) -> Store:
        """The store (for health probes; only the orchestrator writes to it)."""
        return self._store

    def _commit(self, decision: Decision, *, flush: bool = True) -> Result[None, OrchError]:
        started = time.perf_counter()
        try:
            self._apply(decision, flush=flush)
        except StoreError as error:
            self.metrics.store_operation("apply", time.perf_counter() - started, failed=True)
            log.exception("store write failed", error=str(error))
            return Failure(
                OrchError(
                    code=ErrorCode.UNAVAILABLE,
                    message="orch could not save the change, so nothing was changed; check "
                    "the data folder's free space and permissions (`orch doctor`)",
                    detail=repr(error.__cause__),
                )
            )
        self.metrics.store_operation("apply", time.perf_counter() - started)
        before, self._state = self._state, replay(decision.events, self._state)
        self.metrics.recorded(decision.events, decision.effects, before, self.clock())
        return Success(None)

    def _apply(self, decision: Decision, *, flush: bool) -> None:
        """Store the decision's events; the first change of an audited tool call
        carries the call's outcome record in the same transaction."""
        call = current_call()
        if self.audit is None or call is None or not call.wants_outcome:
            self._store.apply(decision.events, flush=flush)
            return
        body = call.outcome("OK", changed_ids(decision.events))
        with self.audit.appending(AuditKind.OUTCOME, body) as record:
            self._store.apply(decision.events, audit=record)
        call.outcome_written = True

    def _decide_commit(self, command: Command, *, flush: bool = True) -> Result[None, OrchError]:
        """Decide and record a command that has no effects (runtime facts)."""
        return decide(self._state, command, self.policy).bind(
            lambda decision: self._commit(decision, flush=flush)
        )

    async def _start_turns(self, decision: Decision) -> None:
        for effect in decision.effects:
            if isinstance(effect, StartTurn):
                await self._start_turn(effect)

    async def _start_turn(self, effect: StartTurn) -> None:
        self.live.expect(effect.turn_id)
        started = await self.live.launch(effect)
        if isinstance(started, Failure):
            failure = started.failure()
            log.warning("turn could not start", turn_id=effect.turn_id, reason=failure.message)
            self._record_end(
                self._ending(
                    effect.turn_id,
                    TurnStatus.FAILED,
                    f"{failure.message}; set claude.command in orch.toml or "
                    "ORCH_CLAUDE_COMMAND, and check `orch doctor`",
                    error_code=ErrorCode.UNAVAILABLE.value,
                )
            )
            return
        running = started.unwrap()
        process = ProcessInfo(pid=running.pid, pgid=running.pgid, start_time=running.start_time)
        # Not flushed: a power cut that could lose it also ends the process.
        recorded = self._decide_commit(
            RecordProcess(turn_id=effect.turn_id, process=process), flush=False
        )
        if isinstance(recorded, Failure):
            log.error("could not record a turn's process", turn_id=effect.turn_id)
        task = asyncio.create_task(self._watch(effect.turn_id, running))
        self._watchers.add(task)
        task.add_done_callback(self._watchers.discard)

    async def _watch(self, turn_id: TurnId, running: RunningTurn) -> None:
        try:
            report = await running.wait()
        except Exception:  # a bug in the runtime; it has already killed the group
            log.exception("turn supervision failed", turn_id=turn_id)
            ending = self._ending(
                turn_id,
                TurnStatus.FAILED,
                "orch failed while running this turn (see the server log); send the message again",
                error_code=ErrorCode.INTERNAL.value,
            )
        else:
            ending = end_turn_command(turn_id, report, now=self.clock())
        async with self._lock:
            if turn_id in self.live.stopping or self.live.handle(turn_id) is not running:
                return  # whoever stopped it records its end
            self._record_end(ending)

    def cancel_soon(self, turn_id: TurnId, reason: str) -> None:
        """Stop a running turn in the background and record it ``cancelled`` with
        ``reason``: the client cancelled the request that waits for it.

        Nothing happens if the turn has ended meanwhile, or if the server is
        stopping (shutdown stops and records every running turn itself).
        """
        if self.closing or not self.accepting or not self.live.needs_stop(turn_id):
            return
        task = asyncio.create_task(self._cancel(turn_id, reason), name=f"cancel-{turn_id}")
        self._watchers.add(task)
        task.add_done_callback(self._watchers.discard)

    async def _cancel(self, turn_id: TurnId, reason: str) -> None:
        await self.live.stop([turn_id])  # outside the lock, as ``execute`` would
        if self.closing or not self.accepting:
            return  # shutdown records it
        cancelled = await self.execute(CancelTurn(turn_id=turn_id, now=self.clock(), reason=reason))
        if isinstance(cancelled, Failure):  # it ended by itself first, or was deleted
            log.info("turn not cancelled", turn_id=turn_id, reason=str(cancelled.failure()))

    def _ending(
        self, turn_id: TurnId, status: TurnStatus, error: str, *, error_code: str | None = None
    ) -> EndTurn:
        """A turn ending decided by orch itself (no report from the CLI)."""
        outcome = TurnOutcome(status=status, error=error, error_code=error_code)
        return EndTurn(turn_id=turn_id, now=self.clock(), outcome=outcome)

    def _record_end(self, command: EndTurn) -> None:
        """Record how a turn ended. If the store takes no write at all (a full disk,
        a read-only file), the ending is kept and retried until it is saved, so a
        turn's outcome is never dropped and its agent never stays busy for ever."""
        ended = self._decide_commit(command)
        if isinstance(ended, Failure) and ended.failure().code is ErrorCode.UNAVAILABLE:
            # The store refused the full record: try to keep at least the ending.
            status = command.outcome.status
            ended = self._decide_commit(
                self._ending(
                    command.turn_id,
                    status,
                    f"the turn ended ({status}) but its reply could not be saved",
                )
            )
            if isinstance(ended, Failure) and ended.failure().code is ErrorCode.UNAVAILABLE:
                self._keep_unsaved(command)
                return
        if isinstance(ended, Failure):
            # Typically: the turn was deleted with its agent meanwhile.
            log.info("turn end not recorded", turn_id=command.turn_id, reason=str(ended.failure()))
        self.live.finished(command.turn_id)

    def _keep_unsaved(self, command: EndTurn) -> None:
        log.warning("turn end not saved yet: retrying", turn_id=command.turn_id)
        self._unsaved[command.turn_id] = command
        if self.accepting and (self._retrying is None or self._retrying.done()):
            self._retrying = asyncio.create_task(self._retry_unsaved(), name="unsaved-endings")

    async def _retry_unsaved(self) -> None:
        while self._unsaved and self.accepting:
            await asyncio.sleep(UNSAVED_RETRY_SECONDS)
            async with self._lock:
                self._save_unsaved()

    def _save_unsaved(self) -> None:
        """Try again to record the turn endings the store refused (under the lock)."""
        for turn_id, command in list(self._unsaved.items()):
            del self._unsaved[turn_id]
            self._record_end(command)  # kept again if the store still refuses it

    async def recover(self) -> list[TurnId]:
        """After a crash: kill surviving process groups of turns left running
        (only when the pid's start time matches), and mark the turns interrupted."""
        running = [t for t in self._state.turns.values() if t.status is TurnStatus.RUNNING]
        grace = self.settings.claude.kill_grace_seconds
        await asyncio.gather(
            *(
                asyncio.to_thread(kill_stale_group, p.pid, p.pgid, p.start_time, grace)
                for p in (t.process for t in running)
                if p is not None
            )
        )
        async with self._lock:
            for turn in running:
                self._record_end(
                    self._ending(
                        turn.id,
                        TurnStatus.INTERRUPTED,
                        "the orch server stopped while this turn was running; send the "
                        "message again if it is still needed",
                    )
                )
        return [t.id for t in running]

    async def shutdown(self) -> None:
        """Stop taking calls, cancel running turns (TERM, grace, KILL), record them
        ``cancelled``, and close the store."""
        self.accepting = False
        async with self._lock:
            pass  # a decision in flight may be starting a turn: let it finish first
        await self.live.stop(self.live.live_ids())
        if self._retrying is not None:
            self._retrying.cancel()
        async with self._lock:
            self._save_unsaved()  # a turn that ended keeps its real ending if it can
            for turn in list(self._state.turns.values()):
                if turn.status is TurnStatus.RUNNING and turn.id not in self._unsaved:
                    self._record_end(
                        self._ending(
                            turn.id,
                            TurnStatus.CANCELLED,
                            "cancelled: the orch server shut down while this turn ran",
                        )
                    )
        if self._watchers:
            await asyncio.gather(*self._watchers, return_exceptions=True)
        if self.audit is not None:
            self.audit.close({"pid": os.getpid()})
        self._store.close()
