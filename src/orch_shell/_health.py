"""Health: the facts behind ``orch://health``, ``GET /health`` and ``orch status``.

Each check looks at one real thing (it commits a change-nothing write to the
store, looks ``claude`` up on the PATH and asks its version, measures
the data folder's disk) and never raises: health is asked for precisely when
something is broken. What the checks add up to is the core's decision
(:func:`orch_core.overall`).

``claude --version`` starts Node and can take a second, so its answer is kept
for :data:`CLAUDE_RECHECK_SECONDS` per resolved command; finding the command is
checked every time (a deleted or moved CLI shows at once).
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Final

from orch_core import (
    STUCK_SLACK_SECONDS,
    HealthCheck,
    HealthReport,
    HealthStatus,
    Settings,
    State,
    agent_environment,
    health_report,
    stuck_check,
)

from ._audit_hooks import AuditSource, audit_check
from ._doctor import check_claude_found, check_claude_version
from ._orchestrator import Orchestrator
from ._store import Store, StoreError

CLAUDE_RECHECK_SECONDS: Final = 300.0
DISK_FAILING_BYTES: Final = 64 * 1024 * 1024
"""Less free space than this on the data folder's disk: ``failing`` (SQLite needs
room for its log; a full disk fails every write)."""
DISK_DEGRADED_BYTES: Final = 512 * 1024 * 1024

_MIB = 1024 * 1024


def store_check(store: Store) -> HealthCheck:
    """``ok`` when the store takes a commit (one that changes nothing), else ``failing``."""
    try:
        store.probe_write()
    except StoreError as error:
        return HealthCheck(
            name="store",
            status=HealthStatus.FAILING,
            detail=f"{error}; nothing can be recorded (check the data folder, `orch doctor`)",
        )
    return HealthCheck(name="store", status=HealthStatus.OK, detail="the database is writable")


def store_readable_check(path: Path, state: State) -> HealthCheck:
    """For ``orch status``, which only reads: the database opened and loaded."""
    size = path.stat().st_size if path.exists() else 0
    detail = f"{path.name} is readable ({len(state.turns)} turns, {size / 1024:.0f} KiB)"
    return HealthCheck(name="store", status=HealthStatus.OK, detail=detail)


def disk_check(folder: Path) -> HealthCheck:
    """Free space on the data folder's disk."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError as error:
        detail = f"cannot measure free space in {folder}: {error.strerror}"
        return HealthCheck(name="disk", status=HealthStatus.DEGRADED, detail=detail)
    status = (
        HealthStatus.FAILING
        if free < DISK_FAILING_BYTES
        else HealthStatus.DEGRADED
        if free < DISK_DEGRADED_BYTES
        else HealthStatus.OK
    )
    detail = f"{free / _MIB / 1024:.1f} GiB free in {folder}"
    if status is not HealthStatus.OK:
        detail += "; free some space, or the store will stop accepting writes"
    return HealthCheck(name="disk", status=status, detail=detail, data={"free_bytes": free})


def claude_check(settings: Settings, environ: Mapping[str, str]) -> HealthCheck:
    """``failing`` if the CLI is not found (no turn can start), ``degraded`` if it
    does not answer ``--version``, else ``ok`` with the version.

    It runs with the environment an agent would get (an allow-list without any
    ``ORCH_*`` variable, so the server's token never reaches it)."""
    command = settings.claude.command
    environ = agent_environment(environ, settings.claude.env_passthrough)
    resolved = shutil.which(command[0], path=environ.get("PATH"))
    found = check_claude_found(command[0], resolved)
    if resolved is None:
        return HealthCheck(
            name="claude", status=HealthStatus.FAILING, detail=f"{found.detail}; {found.hint}"
        )
    version = check_claude_version([resolved, *command[1:], "--version"], environ)
    data = {"path": resolved, "version": version.detail if version.ok else None}
    if not version.ok:
        detail = f"{version.detail}; {version.hint}"
        return HealthCheck(name="claude", status=HealthStatus.DEGRADED, detail=detail, data=data)
    return HealthCheck(
        name="claude", status=HealthStatus.OK, detail=f"{resolved}: {version.detail}", data=data
    )


def stuck_limit(settings: Settings) -> float:
    """How long a turn may run before it counts as stuck."""
    claude = settings.claude
    return claude.turn_timeout_seconds + claude.kill_grace_seconds + STUCK_SLACK_SECONDS


class Health:
    """The live server's health, asked for by ``orch://health`` and ``GET /health``."""

    def __init__(
        self,
        orchestrator: Orchestrator,
        *,
        environ: Mapping[str, str],
        version: str,
        clock: Callable[[], float] = time.time,
        audit: AuditSource | None = None,
    ) -> None:
        self._orch = orchestrator
        self._environ = dict(environ)
        self._version = version
        self._clock = clock
        self._started_at = clock()
        self._audit = audit if audit is not None else orchestrator.audit
        self._claude: tuple[tuple[str, ...], float, HealthCheck] | None = None
        self._claude_lock = asyncio.Lock()

    @property
    def started_at(self) -> float:
        return self._started_at

    async def report(self) -> HealthReport:
        """Run every check now (``claude --version`` at most every few minutes)."""
        orch = self._orch
        now = self._clock()
        started = time.perf_counter()
        store = store_check(orch.store)
        orch.metrics.store_operation("probe", time.perf_counter() - started)
        folder = orch.store.path.parent if orch.store.path else Path.cwd()
        checks = [
            store,
            await self._claude_check(),
            disk_check(folder),
            stuck_check(orch.state, now=now, limit_seconds=stuck_limit(orch.settings)),
            audit_check(self._audit, now),
        ]
        return health_report(checks, version=self._version, uptime_seconds=now - self._started_at)

    async def _claude_check(self) -> HealthCheck:
        command = self._orch.settings.claude.command
        async with self._claude_lock:
            resolved = shutil.which(command[0], path=self._environ.get("PATH"))
            cached = self._claude
            fresh = cached is not None and time.monotonic() - cached[1] < CLAUDE_RECHECK_SECONDS
            key = (resolved or "", *command)
            if resolved is not None and cached is not None and fresh and cached[0] == key:
                return cached[2]
            check = await asyncio.to_thread(claude_check, self._orch.settings, self._environ)
            self._claude = (key, time.monotonic(), check)
            return check


def health_json(report: HealthReport) -> dict[str, object]:
    """The ``orch://health`` document: the verdict, then each named check."""
    return {
        "status": report.status.value,
        "version": report.version,
        "uptime_seconds": round(report.uptime_seconds, 1),
        "checks": {
            check.name: {"status": check.status.value, "detail": check.detail, **check.data}
            for check in report.checks
        },
    }
