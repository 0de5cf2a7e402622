"""Is the server healthy? Named checks, and the one verdict they add up to.

The shell gathers the facts (can the store be written, is ``claude`` there, how
much disk is free) and makes one :class:`HealthCheck` per fact; this module says
what they mean together, and which running turns are stuck, without any I/O.

Theory of operation: the verdict is the worst check. ``failing`` means orch
cannot do its job (nothing can be recorded, no agent can start); ``degraded``
means it works but something needs a look (a stuck turn, little disk left);
``not_configured`` marks a check for a feature that is not set up and never
changes the verdict.

>>> overall([HealthCheck(name="store", status=HealthStatus.OK, detail="writable"),
...          HealthCheck(name="disk", status=HealthStatus.DEGRADED, detail="low")])
<HealthStatus.DEGRADED: 'degraded'>
>>> overall([HealthCheck(name="audit", status=HealthStatus.NOT_CONFIGURED, detail="off")])
<HealthStatus.OK: 'ok'>
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import Final

from attrs import field, frozen
from attrs.validators import ge

from ._lifecycle import TurnStatus
from ._model import State, Turn


class HealthStatus(enum.StrEnum):
    """A check's result, and (all but ``not_configured``) the server's verdict."""

    OK = "ok"
    DEGRADED = "degraded"
    FAILING = "failing"
    NOT_CONFIGURED = "not_configured"


_SEVERITY: Final[Mapping[HealthStatus, int]] = {
    HealthStatus.NOT_CONFIGURED: 0,
    HealthStatus.OK: 0,
    HealthStatus.DEGRADED: 1,
    HealthStatus.FAILING: 2,
}

STUCK_SLACK_SECONDS: Final = 60.0
"""How long past its timeout and kill grace a turn may still show as running
before it counts as stuck (the runtime records the ending within a few seconds)."""


@frozen(kw_only=True)
class HealthCheck:
    """One named fact about the server; ``data`` holds the numbers behind ``detail``."""

    name: str
    status: HealthStatus
    detail: str
    data: Mapping[str, object] = field(factory=dict)


@frozen(kw_only=True)
class HealthReport:
    """The verdict, the checks it came from, and what is running."""

    status: HealthStatus
    version: str
    uptime_seconds: float = field(validator=ge(0.0))
    checks: tuple[HealthCheck, ...]


def overall(checks: Iterable[HealthCheck]) -> HealthStatus:
    """The worst status among ``checks`` (``ok`` when there are none)."""
    worst = HealthStatus.OK
    for check in checks:
        if _SEVERITY[check.status] > _SEVERITY[worst]:
            worst = check.status
    return worst


def health_report(
    checks: Iterable[HealthCheck], *, version: str, uptime_seconds: float
) -> HealthReport:
    """The health report of ``checks``."""
    listed = tuple(checks)
    return HealthReport(
        status=overall(listed),
        version=version,
        uptime_seconds=max(0.0, uptime_seconds),
        checks=listed,
    )


def stuck_turns(state: State, *, now: float, limit_seconds: float) -> tuple[Turn, ...]:
    """Running turns started more than ``limit_seconds`` before ``now``, oldest first.

    The runtime stops a turn at its timeout, so one still running well after it
    (see :data:`STUCK_SLACK_SECONDS`) means the stop or its record went wrong.

    >>> stuck_turns(State(), now=100.0, limit_seconds=10.0)
    ()
    """
    stuck = [
        turn
        for turn in state.turns.values()
        if turn.status is TurnStatus.RUNNING and now - turn.started_at > limit_seconds
    ]
    return tuple(sorted(stuck, key=lambda turn: turn.started_at))


def stuck_check(state: State, *, now: float, limit_seconds: float) -> HealthCheck:
    """The ``stuck_turns`` check: ``degraded`` while any turn is stuck."""
    stuck = stuck_turns(state, now=now, limit_seconds=limit_seconds)
    data: dict[str, object] = {
        "turn_ids": [turn.id for turn in stuck],
        "limit_seconds": limit_seconds,
    }
    if not stuck:
        return HealthCheck(
            name="stuck_turns", status=HealthStatus.OK, detail="no turn is stuck", data=data
        )
    oldest = now - stuck[0].started_at
    detail = (
        f"{len(stuck)} turn(s) still running past their timeout (oldest {oldest:.0f} s, "
        f"limit {limit_seconds:.0f} s); delete the agent to stop it"
    )
    return HealthCheck(name="stuck_turns", status=HealthStatus.DEGRADED, detail=detail, data=data)
