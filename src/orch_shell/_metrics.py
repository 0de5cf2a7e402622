"""The server's Prometheus metrics, in a registry of its own.

One :class:`Metrics` per server, never prometheus_client's global registry: two
servers in one process (the tests run many) must not share counters, and
nothing a library registers globally should leak into ``orch://metrics``.

Label values are bounded, because a label value is a time series held for the
life of the process: a tool label is a known tool or ``other``, a code is one of
orch's codes, a model name must look like one and at most :data:`MAX_MODELS`
are kept apart (the rest are ``other``). Nothing a caller sends becomes a label
verbatim.

The per-call path (:meth:`Metrics.tool_call`) looks its series up in a dict and
does two updates: its cost is measured by ``bench/bench_metrics_overhead.py``.
Gauges that describe the present (turns running, processes alive) are read from
the live objects at scrape time, so they cannot drift.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Final

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)

from orch_core import (
    DEFAULT_ACTION_SCOPES,
    Effect,
    ErrorCode,
    Event,
    ModelUsage,
    State,
    StopTurn,
    TurnEnded,
    TurnId,
    TurnStarted,
    TurnStatus,
)

from ._audit_hooks import AuditCollector, AuditSource

OK: Final = "OK"
"""The ``code`` label of a call that succeeded."""
CANCELLED: Final = "CANCELLED"
"""The ``code`` label of a call the client cancelled before it answered."""
OTHER: Final = "other"
MAX_MODELS: Final = 32
CODES: Final = frozenset({OK, CANCELLED, *(code.value for code in ErrorCode)})
TOKEN_KINDS: Final = ("input", "output", "cache_read", "cache_creation")

_CALL_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_CALL_BUCKETS_LONG: Final = (*_CALL_BUCKETS, 30, 60, 120, 300, 600)
_TURN_BUCKETS: Final = (1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600)
_STORE_BUCKETS: Final = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5)


class Metrics:
    """Every metric orch exports; with ``enabled=False`` each update does nothing."""

    def __init__(
        self,
        *,
        enabled: bool = True,
        tools: Collection[str] = DEFAULT_ACTION_SCOPES.keys(),
        version: str = "unknown",
    ) -> None:
        """``tools`` are the names kept apart in the ``tool`` label (default: every
        tool orch has); any other name is counted as ``other``."""
        self.enabled = enabled
        self.registry = CollectorRegistry()
        self._tools = frozenset(tools)
        self._models: set[str] = set()
        reg = self.registry
        self._calls = Counter(
            "orch_tool_calls",
            "Tool calls, by tool and outcome code.",
            ["tool", "code"],
            registry=reg,
        )
        self._call_seconds = Histogram(
            "orch_tool_call_duration_seconds",
            "Time from a tool call's arrival to its answer (a send includes its wait).",
            ["tool"],
            buckets=_CALL_BUCKETS_LONG,
            registry=reg,
        )
        self._reads = Counter(
            "orch_resource_reads",
            "Resource reads, by resource and code.",
            ["resource", "code"],
            registry=reg,
        )
        self._turns_started = Counter("orch_turns_started", "Turns started.", registry=reg)
        self._turns = Counter("orch_turns", "Turns ended, by outcome.", ["status"], registry=reg)
        self._turn_seconds = Histogram(
            "orch_turn_duration_seconds",
            "Wall time of ended turns, by outcome.",
            ["status"],
            buckets=_TURN_BUCKETS,
            registry=reg,
        )
        self._cost = Counter(
            "orch_agent_cost_usd",
            "What agents' turns cost, in USD, by model.",
            ["model"],
            registry=reg,
        )
        self._tokens = Counter(
            "orch_agent_tokens",
            "Tokens agents used, by model and kind.",
            ["model", "kind"],
            registry=reg,
        )
        self._auth_failures = Counter(
            "orch_auth_failures",
            "Calls refused as unauthenticated, by reason.",
            ["reason"],
            registry=reg,
        )
        # Issue 6 (rate limits) increments this; until then 0 is the truth.
        self._rate_limited = Counter(
            "orch_rate_limited", "Calls refused by a rate limit.", registry=reg
        )
        self._store_seconds = Histogram(
            "orch_store_operation_duration_seconds",
            "Time of store operations (apply: record a decision; load; probe).",
            ["operation"],
            buckets=_STORE_BUCKETS,
            registry=reg,
        )
        self._store_errors = Counter(
            "orch_store_errors", "Store writes that failed (nothing was recorded).", registry=reg
        )
        self._turns_running = Gauge("orch_turns_running", "Turns running now.", registry=reg)
        self._alive = Gauge(
            "orch_subprocesses_alive", "claude processes (turn leaders) alive now.", registry=reg
        )
        Gauge("orch_build_info", "This orch's version.", ["version"], registry=reg).labels(
            version=version
        ).set(1)
        self._started = Gauge(
            "orch_start_time_seconds", "When the server started (Unix seconds).", registry=reg
        )
        ProcessCollector(registry=reg)  # process_cpu_seconds_total, memory, open fds
        self._call_series: dict[tuple[str, str], tuple[Counter, Histogram]] = {}

    @classmethod
    def off(cls) -> Metrics:
        """Metrics that record nothing (``server.metrics = false``)."""
        return cls(enabled=False)

    def watch(
        self, *, started_at: float, turns_running: Callable[[], int], alive: Callable[[], int]
    ) -> None:
        """Read the present from the server's live objects at each scrape."""
        self._started.set(started_at)
        self._turns_running.set_function(lambda: float(turns_running()))
        self._alive.set_function(lambda: float(alive()))

    def watch_audit(self, source: AuditSource, clock: Callable[[], float]) -> None:
        """The audit families, registered once an audit log exists (issue 5)."""
        self.registry.register(AuditCollector(source, clock))

    def tool_call(self, tool: str, code: str, seconds: float) -> None:
        """One tool call answered with ``code`` (``OK``, or an error code)."""
        if not self.enabled:
            return
        key = (tool if tool in self._tools else OTHER, code if code in CODES else "INTERNAL")
        series = self._call_series.get(key)
        if series is None:
            series = (self._calls.labels(*key), self._call_seconds.labels(key[0]))
            self._call_series[key] = series
        series[0].inc()
        series[1].observe(seconds)

    def resource_read(self, resource: str, code: str) -> None:
        if self.enabled:
            self._reads.labels(resource, code if code in CODES else "INTERNAL").inc()

    def auth_failure(self, reason: str) -> None:
        """A call refused as unauthenticated; ``reason`` is an ``AuthFailureReason``."""
        if self.enabled:
            self._auth_failures.labels(reason).inc()

    def rate_limited(self) -> None:
        """A call refused by a rate limit: the hook for issue 6."""
        if self.enabled:
            self._rate_limited.inc()

    def store_operation(self, operation: str, seconds: float, *, failed: bool = False) -> None:
        if not self.enabled:
            return
        self._store_seconds.labels(operation).observe(seconds)
        if failed:
            self._store_errors.inc()

    def recorded(
        self, events: Sequence[Event], effects: Sequence[Effect], before: State, now: float
    ) -> None:
        """A decision was recorded: count the turns it started and ended.

        A turn stopped by a delete ends without a ``TurnEnded`` (it is deleted with
        its agent), so it counts as ``cancelled`` here, timed until ``now``.
        """
        if not self.enabled:
            return
        ended: set[TurnId] = set()
        for event in events:
            if isinstance(event, TurnStarted):
                self._turns_started.inc()
            elif isinstance(event, TurnEnded):
                ended.add(event.turn_id)
                self._turn_ended(event.outcome.status, before, event.turn_id, event.finished_at)
                for usage in event.outcome.models:
                    self._spent(usage)
        for effect in effects:
            if isinstance(effect, StopTurn) and effect.turn_id not in ended:
                self._turn_ended(TurnStatus.CANCELLED, before, effect.turn_id, now)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)

    def _turn_ended(self, status: TurnStatus, before: State, turn_id: TurnId, at: float) -> None:
        self._turns.labels(status.value).inc()
        turn = before.turns.get(turn_id)
        if turn is not None:
            self._turn_seconds.labels(status.value).observe(max(0.0, at - turn.started_at))

    def _spent(self, usage: ModelUsage) -> None:
        model = usage.model
        if model not in self._models:
            if len(self._models) >= MAX_MODELS:
                model = OTHER
            else:
                self._models.add(model)
        self._cost.labels(model).inc(usage.cost_usd)
        tokens = usage.usage
        counts = (
            tokens.input_tokens,
            tokens.output_tokens,
            tokens.cache_read_input_tokens,
            tokens.cache_creation_input_tokens,
        )
        for kind, count in zip(TOKEN_KINDS, counts, strict=True):
            self._tokens.labels(model, kind).inc(count)
