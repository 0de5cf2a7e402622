"""``orch status``: what the data folder holds, for a person at a terminal.

It reads the database read-only (a running server's WAL database is fine to
read), never takes the instance lock and never writes, so it is safe to run
next to a serving ``orch serve``. Whether a server is running comes from the
pid in ``orch.lock``: the pid must be alive, look like orch, and have started
before the lock was written (a reused pid started later).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

import psutil
from returns.pipeline import is_successful

from orch_core import (
    AgentView,
    HealthCheck,
    HealthStatus,
    Settings,
    State,
    agent_view,
    health_report,
    stuck_check,
)

from ._audit_hooks import audit_check
from ._config_file import load_settings
from ._health import claude_check, disk_check, store_readable_check, stuck_limit
from ._instance_lock import lock_path
from ._paths import OrchPaths
from ._store import Store, StoreError
from ._version import version

_LOCK_SLACK_SECONDS = 2.0


def run_status(paths: OrchPaths, environ: Mapping[str, str]) -> int:
    """Print the status table and the health checks; 1 if the database cannot be read."""
    loaded = load_settings(paths, environ)
    settings = loaded.unwrap() if is_successful(loaded) else Settings()
    pid = running_server(paths.home)
    server = f"server running (pid {pid})" if pid else "no server running"
    print(f"orch {version()} · {paths.home} · {server}")
    if not is_successful(loaded):
        print(f"warning: {loaded.failure().describe()}; showing defaults")
    if not paths.database.exists():
        print("\nNo database yet: it is created when `orch serve` first starts.")
        return 0
    try:
        with Store.open_read_only(paths.database) as store:
            state = store.load()
    except StoreError as error:
        print(f"\norch: {error}")
        return 1
    now = time.time()
    print()
    for line in table(state, now):
        print(line)
    running = [agent for agent in state.agents.values() if agent.running_turn_id]
    if running and pid is None:
        print(
            f"\n{len(running)} turn(s) left running: the next `orch serve` marks them interrupted."
        )
    checks = [
        store_readable_check(paths.database, state),
        claude_check(settings, environ),
        disk_check(paths.home),
        stuck_check(state, now=now, limit_seconds=stuck_limit(settings)),
        audit_check(None, now),
    ]
    report = health_report(checks, version=version(), uptime_seconds=0.0)
    print(f"\nHealth: {report.status.value}")
    for line in health_lines(report.checks):
        print(line)
    return 0


def running_server(home: Path) -> int | None:
    """The pid of the ``orch serve`` holding ``home``'s lock, if one runs."""
    lock = lock_path(home)
    try:
        text = lock.read_text(encoding="ascii", errors="replace").strip()
        written = lock.stat().st_mtime
    except OSError:
        return None
    if not text.isdigit():
        return None
    try:
        process = psutil.Process(int(text))
        started = process.create_time()
        command = " ".join(process.cmdline())
    except psutil.AccessDenied:
        return int(text)  # alive, someone else's: cannot tell more
    except psutil.Error:
        return None
    looks_like_orch = "orch" in command and "serve" in command
    return int(text) if looks_like_orch and started <= written + _LOCK_SLACK_SECONDS else None


def table(state: State, now: float) -> list[str]:
    """One row per agent (a session without agents gets one row), then the totals."""
    several = len({session.owner for session in state.sessions.values()}) > 1
    header = ["SESSION", "AGENT", "STATE", "TURNS", "COST USD", "TOKENS IN/OUT", "NOW"]
    rows: list[list[str]] = []
    views: list[AgentView] = []
    for session in state.sessions.values():
        owner = [session.owner] if several else []
        if not session.agent_ids:
            rows.append([*owner, session.name, "-", "", "", "", "", ""])
        for agent_id in session.agent_ids:
            view = agent_view(state, state.agents[agent_id], now=now, live={})
            views.append(view)
            rows.append([*owner, session.name, *_agent_cells(view)])
    if not rows:
        return ["No sessions yet."]
    turns = sum(view.totals.turns for view in views)
    cost = sum(view.totals.cost_usd for view in views)
    tokens_in = sum(view.totals.tokens.input_tokens for view in views)
    tokens_out = sum(view.totals.tokens.output_tokens for view in views)
    owner = [""] if several else []
    rows.append(
        [*owner, "TOTAL", "", "", str(turns), f"{cost:.4f}", f"{tokens_in}/{tokens_out}", ""]
    )
    header = ["OWNER", *header] if several else header
    return _aligned([header, *rows], right={"TURNS", "COST USD"}, header=header)


def _agent_cells(view: AgentView) -> list[str]:
    totals = view.totals
    if view.current_turn is not None:
        current = view.current_turn
        doing = f"turn {current.number}, running {duration(current.elapsed_seconds)}"
    elif view.last_reply is not None:
        doing = f"last turn {view.last_reply.status.value}"
    else:
        doing = "no turns yet"
    return [
        view.name,
        view.state.value,
        str(totals.turns),
        f"{totals.cost_usd:.4f}",
        f"{totals.tokens.input_tokens}/{totals.tokens.output_tokens}",
        doing,
    ]


def _aligned(rows: Sequence[Sequence[str]], *, right: set[str], header: list[str]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for row in rows:
        cells = [
            cell.rjust(width) if header[i] in right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return lines


_MARKS: Final = {
    HealthStatus.OK: "ok",
    HealthStatus.DEGRADED: "DEGRADED",
    HealthStatus.FAILING: "FAILING",
    HealthStatus.NOT_CONFIGURED: "-",
}


def health_lines(checks: Sequence[HealthCheck]) -> list[str]:
    """``  ok        store: orch.db is readable (...)``, one line per check; problems
    in capitals so they stand out."""
    return [f"  {_MARKS[check.status]:<10}{check.name}: {check.detail}" for check in checks]


def duration(seconds: float) -> str:
    """``42 s``, ``5 min``, ``2 h 5 min``, ``3 d 4 h``.

    >>> duration(42.4), duration(300), duration(7500), duration(4 * 86400 + 3600)
    ('42 s', '5 min', '2 h 5 min', '4 d 1 h')
    """
    whole = int(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min"
    if whole < 86400:
        return f"{whole // 3600} h {whole % 3600 // 60} min"
    return f"{whole // 86400} d {whole % 86400 // 3600} h"
