"""Reading a world's audit log in tests: its records, and ``orch audit verify``."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from typing import Any

from tests.harness import ORCH_BIN, World


def records(world: World, kind: str | None = None) -> list[dict[str, Any]]:
    """The world's audit records (parsed, in seq order), optionally of one ``kind``."""
    with sqlite3.connect(f"file:{world.data / 'orch.db'}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT record FROM audit_records ORDER BY seq").fetchall()
    parsed = [json.loads(text) for (text,) in rows]
    return [r for r in parsed if kind is None or r["kind"] == kind]


def decisions(world: World, tool: str | None = None) -> list[dict[str, Any]]:
    """The bodies of the decision records, optionally for one tool."""
    bodies = [r["body"] for r in records(world, "tool.decision")]
    return [b for b in bodies if tool is None or b["tool"] == tool]


def run_orch(world: World, *arguments: str) -> subprocess.CompletedProcess[str]:
    """``orch ARGUMENTS`` in the world's environment, stdin closed; never raises on exit."""
    return subprocess.run(
        [str(ORCH_BIN), *arguments],
        env=world.server_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def verify(world: World, *arguments: str) -> tuple[int, str]:
    """``orch audit verify`` on the world: its exit code and output."""
    done = run_orch(world, "audit", "verify", *arguments)
    return done.returncode, (done.stdout + done.stderr).strip()
