"""What the orch-versus-baseline benchmarks share: data folders, clients, statistics, output.

Each benchmark starts fresh ``orch serve`` processes on data folders made by
``orch init`` and talks to them with the ``mcp`` SDK's stdio client (the path
Claude Desktop takes). Servers write their log to a file in the run's temporary
folder, so log lines neither flood the terminal nor block on a full pipe.
"""

from __future__ import annotations

import base64
import json
import os
import re
import statistics
import subprocess
import sys
from collections.abc import Mapping
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import psutil
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

BENCH = Path(__file__).resolve().parent
ORCH = Path(sys.executable).parent / "orch"
RESULTS = BENCH / "results.json"
FAKE_CLAUDE = BENCH.parent / "tests" / "fake_claude.py"
BARE_SERVER = BENCH / "bare_server.py"

Settings = Mapping[str, int | float | bool | str]


def configure(text: str, settings: Settings) -> str:
    """``orch.toml`` as ``orch init`` wrote it, with each key of ``settings`` uncommented
    and set (keys are unique across the tables that are set here)."""
    for key, value in settings.items():
        line = f"{key} = {json.dumps(value)}"
        text, found = re.subn(rf"^# {re.escape(key)} = .*$", line, text, count=1, flags=re.M)
        if not found:
            raise ValueError(f"orch.toml has no commented-out {key}")
    return text


def make_home(root: Path, settings: Settings, **extra_env: str) -> dict[str, str]:
    """A data folder as ``orch init`` leaves it under ``root``, with ``settings`` set,
    and the environment of a server on it (HOME is ``root/home``, with a ``project``)."""
    (root / "home" / "project").mkdir(parents=True)
    data = root / "data"
    env = {
        "HOME": str(root / "home"),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "ORCH_HOME": str(data),
        "FASTMCP_CHECK_FOR_UPDATES": "off",
        **extra_env,
    }
    subprocess.run([str(ORCH), "init"], env=env, check=True, capture_output=True)
    config = data / "orch.toml"
    config.write_text(configure(config.read_text(encoding="utf-8"), settings), encoding="utf-8")
    token = subprocess.run(
        [str(ORCH), "token", "path"], env=env, check=True, capture_output=True, text=True
    )
    env["ORCH_TOKEN_FILE"] = token.stdout.strip()
    return env


def token_subject(env: dict[str, str]) -> str:
    """The ``sub`` of the server's token: the owner of the sessions it creates."""
    payload = Path(env["ORCH_TOKEN_FILE"]).read_text(encoding="utf-8").strip().split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(claims["sub"])


def orch_params(env: dict[str, str]) -> StdioServerParameters:
    return StdioServerParameters(command=str(ORCH), args=["serve"], env=env)


def bare_params(env: dict[str, str]) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=[str(BARE_SERVER)], env=env)


async def connect(
    stack: AsyncExitStack, params: StdioServerParameters, errlog: TextIO
) -> ClientSession:
    """Start the server and an initialized client on it; both end with ``stack``."""
    read, write = await stack.enter_async_context(stdio_client(params, errlog=errlog))
    session = await stack.enter_async_context(ClientSession(read, write))
    await session.initialize()
    return session


async def call(session: ClientSession, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """A tool call that must succeed; its structured content."""
    result = await session.call_tool(tool, arguments)
    if result.is_error:
        raise RuntimeError(f"{tool} failed: {result.content}")
    return dict(result.structured_content or {})


def server_rss(marker: str) -> int:
    """RSS in bytes of this process's one child whose command line contains ``marker``."""
    found = [
        child
        for child in psutil.Process().children()
        if any(marker in part for part in child.cmdline())
    ]
    if len(found) != 1:
        raise RuntimeError(f"expected one server process matching {marker!r}, found {found}")
    return int(found[0].memory_info().rss)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def stats_ms(seconds: list[float]) -> dict[str, Any]:
    """Count, median, p99, mean and max of durations in seconds, in milliseconds."""
    return {
        "n": len(seconds),
        "median_ms": round(statistics.median(seconds) * 1000, 3),
        "p99_ms": round(percentile(seconds, 0.99) * 1000, 3),
        "mean_ms": round(statistics.fmean(seconds) * 1000, 3),
        "max_ms": round(max(seconds) * 1000, 3),
    }


def compare(
    orch: dict[str, Any], baseline: dict[str, Any], target: float, field: str = "median_ms"
) -> dict[str, Any]:
    """Both sides, their ratios, the target (on the ratio of ``field``) and whether it holds."""
    ratio = orch[field] / baseline[field]
    compared: dict[str, Any] = {"orch": orch, "baseline": baseline, "ratio": round(ratio, 3)}
    if "p99_ms" in orch and field != "p99_ms":
        compared["p99_ratio"] = round(orch["p99_ms"] / baseline["p99_ms"], 3)
    compared.update(target_ratio=target, passed=ratio <= target)
    return compared


def header(command: str) -> dict[str, Any]:
    return {
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, {sys.platform}",
        "command": " ".join([f"python bench/{command}", *sys.argv[1:]]),
    }


Row = tuple[str, str, str, str, str, bool | None]
"""Measure, orch, baseline, ratio, target, passed (``None``: no target)."""


def print_rows(rows: list[Row]) -> None:
    """A table: measure, orch, baseline, ratio, target, pass or FAIL."""
    titles = ("measure", "orch", "baseline", "ratio", "target", "")
    widths = [max(len(str(row[i])) for row in [titles, *rows]) for i in range(5)]
    print("  ".join(f"{title:<{width}}" for title, width in zip(titles, widths, strict=False)))
    for row in rows:
        cells = [f"{cell:<{width}}" for cell, width in zip(row[:5], widths, strict=True)]
        verdict = "" if row[5] is None else "pass" if row[5] else "FAIL"
        print("  ".join([*cells, verdict]).rstrip())


def merge_results(path: Path, key: str, summary: dict[str, Any]) -> None:
    """Put ``summary`` under ``key``, keeping every other key."""
    existing = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    existing[key] = summary
    path.write_text(json.dumps(existing, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def publish(given: Path | None, smoke: bool, key: str, summary: dict[str, Any]) -> None:
    """Merge ``summary`` into the results file: ``given``, else ``RESULTS`` (a smoke
    run writes only where it is told to)."""
    results = given or (None if smoke else RESULTS)
    if results is not None:
        merge_results(results, key, summary)
        print(f"results: {results} [{key}]")
