"""The audit log as metrics and health see it.

Health says ``degraded`` when records have waited too long for a checkpoint:
the sealer runs every few seconds, so records left unsealed for a minute mean
checkpoints are failing (a full disk, a read-only checkpoint file).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from orch_core import HealthCheck, HealthStatus

AUDIT_SEAL_OVERDUE_SECONDS: Final = 60.0
"""How long a record may wait for a checkpoint before health says ``degraded``."""


class AuditSource(Protocol):
    """What the audit log offers metrics and health."""

    def records(self) -> int:
        """Records written since the log was created."""
        ...

    def last_checkpoint_at(self) -> float | None:
        """When the chain was last sealed (Unix seconds), or None if never."""
        ...

    def unsealed_since(self) -> float | None:
        """When the oldest record not yet sealed was written, or None if all are sealed."""
        ...


def audit_check(source: AuditSource | None, now: float) -> HealthCheck:
    """Every record is sealed, or was written less than a minute ago."""
    if source is None:
        return HealthCheck(
            name="audit", status=HealthStatus.NOT_CONFIGURED, detail="no audit log is configured"
        )
    sealed = source.last_checkpoint_at()
    waiting = source.unsealed_since()
    age = None if sealed is None else max(0.0, now - sealed)
    data = {"records": source.records(), "checkpoint_age_seconds": age}
    if waiting is not None and now - waiting > AUDIT_SEAL_OVERDUE_SECONDS:
        detail = (
            f"records have waited {now - waiting:.0f} s for a checkpoint: sealing is failing "
            "(see the server log; a full disk?)"
        )
        return HealthCheck(name="audit", status=HealthStatus.DEGRADED, detail=detail, data=data)
    detail = "nothing sealed yet" if age is None else f"sealed {age:.0f} s ago"
    return HealthCheck(name="audit", status=HealthStatus.OK, detail=detail, data=data)


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
