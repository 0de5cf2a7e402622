"""Where the audit log (issue 5) will plug into metrics and health; nothing does yet.

Until an audit log exists, orch reports no audit numbers rather than made-up
ones: the metric families are registered only by :meth:`Metrics.watch_audit`,
and the ``audit`` health check says ``not_configured``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from orch_core import HealthCheck, HealthStatus

AUDIT_SEALED_WITHIN_SECONDS: Final = 3600.0
"""How recently the audit chain must have been sealed to be ``ok``."""


class AuditSource(Protocol):
    """What the audit log (issue 5) will offer metrics and health; nothing yet does."""

    def records(self) -> int:
        """Records written since the log was created."""
        ...

    def last_checkpoint_at(self) -> float | None:
        """When the chain was last sealed (Unix seconds), or None if never."""
        ...


def audit_check(source: AuditSource | None, now: float) -> HealthCheck:
    """The audit chain was sealed recently; ``not_configured`` until issue 5 adds it."""
    if source is None:
        return HealthCheck(
            name="audit", status=HealthStatus.NOT_CONFIGURED, detail="no audit log is configured"
        )
    sealed = source.last_checkpoint_at()
    age = None if sealed is None else max(0.0, now - sealed)
    data = {"records": source.records(), "checkpoint_age_seconds": age}
    if age is None or age > AUDIT_SEALED_WITHIN_SECONDS:
        detail = "the audit chain has not been sealed within the last hour"
        return HealthCheck(name="audit", status=HealthStatus.DEGRADED, detail=detail, data=data)
    return HealthCheck(
        name="audit", status=HealthStatus.OK, detail=f"sealed {age:.0f} s ago", data=data
    )


class AuditCollector(Collector):
    """``orch_audit_records_total`` and ``orch_audit_checkpoint_age_seconds``, read at scrape."""

    def __init__(self, source: AuditSource, clock: Callable[[], float]) -> None:
        self._source = source
        self._clock = clock

    def collect(self) -> list[Metric]:
        records = CounterMetricFamily(
            "orch_audit_records", "Audit records written since the log was created."
        )
        records.add_metric([], float(self._source.records()))
        age = GaugeMetricFamily(
            "orch_audit_checkpoint_age_seconds",
            "Seconds since the audit chain was last sealed (absent: never).",
        )
        sealed = self._source.last_checkpoint_at()
        if sealed is not None:
            age.add_metric([], max(0.0, self._clock() - sealed))
        return [records, age]
