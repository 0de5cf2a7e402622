"""orch against a bare FastMCP server: per-call overhead, start-up time and idle memory.

Usage: ``python bench/bench_vs_bare.py [--starts 10] [--rounds 5] [--reads 300]
[--pairs 100] [--results bench/results.json] [--smoke]``.

The baseline is ``bench/bare_server.py``: FastMCP on stdio with no auth, audit,
limits or metrics. Measured, orch (``orch serve`` on a folder made by ``orch
init``, default settings except rates 0 = unlimited, logging at its default
``info`` to a file) against it:

* **read**: ``get_session_status`` of a session with 4 agents, against a bare tool
  answering the very same dict under the same output schema; target: median
  ratio at most 1.25;
* **write**: ``create_agent`` + ``delete_agent`` (each call writes its change and
  its audit records, WAL, ``synchronous=FULL``), against two bare calls that each
  commit one SQLite insert with the same durability; target: at most 2;
* **start-up**: process start to the first ``tools/list`` answer (the client's
  ``initialize`` included); target: at most 1.3;
* **idle memory**: the server's RSS (psutil) right after that ``tools/list``;
  target: at most 1.3.

Start-ups are sequential (one server at a time) in ``--starts`` rounds whose
order alternates; orch restarts on the same data folder, as Claude Desktop does.
Per-call timings come from ``--rounds`` rounds, each on a fresh pair of
processes, with calls interleaved in blocks whose order alternates, so drift on
a shared machine hits both sides alike. Printed as a table and merged into the
results file under ``vs_bare``. ``--smoke`` runs a tiny size and writes results
only when ``--results`` is given.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, TextIO

from _common import (
    ORCH,
    RESULTS,
    Row,
    bare_params,
    call,
    compare,
    connect,
    header,
    make_home,
    orch_params,
    print_rows,
    publish,
    server_rss,
    stats_ms,
)
from mcp import ClientSession

KEY = "vs_bare"
BLOCK = 50
STATUS_AGENTS = 4
SETTINGS = {"read_per_minute": 0, "write_per_minute": 0}
TARGETS = {"read": 1.25, "write_pair": 2.0, "startup": 1.3, "idle_rss": 1.3}
SIDES = ("orch", "bare")

Timed = Callable[[], Awaitable[float]]


async def orch_session(session: ClientSession, home: str, name: str, agents: int) -> str:
    created = await call(session, "create_session", {"name": name, "root_path": home})
    for number in range(agents):
        arguments = {"session_id": created["session_id"], "name": f"agent{number}"}
        await call(session, "create_agent", arguments)
    return str(created["session_id"])


async def probe(root: Path, errlog: TextIO) -> tuple[dict[str, str], Path]:
    """orch's data folder for start-ups, and the answer and schema the bare server replays."""
    env = make_home(root / "orch-starts", SETTINGS)
    async with AsyncExitStack() as stack:
        session = await connect(stack, orch_params(env), errlog)
        project = str(Path(env["HOME"]) / "project")
        session_id = await orch_session(session, project, "bench", STATUS_AGENTS)
        status = await call(session, "get_session_status", {"session_id": session_id})
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
    answer = root / "bare-status.json"
    schema = tools["get_session_status"].output_schema
    answer.write_text(json.dumps({"status": status, "schema": schema}), encoding="utf-8")
    return env, answer


def bare_env(root: Path, answer: Path) -> dict[str, str]:
    root.mkdir(parents=True)
    return {
        "FASTMCP_CHECK_FOR_UPDATES": "off",
        "BARE_STATUS": str(answer),
        "BARE_DB": str(root / "bare.db"),
    }


async def start_once(side: str, env: dict[str, str], errlog: TextIO) -> tuple[float, int]:
    """Seconds from spawning the server to its first ``tools/list`` answer, and its RSS then."""
    params = orch_params(env) if side == "orch" else bare_params(env)
    async with AsyncExitStack() as stack:
        began = time.perf_counter()
        session = await connect(stack, params, errlog)
        await session.list_tools()
        elapsed = time.perf_counter() - began
        rss = server_rss(str(ORCH) if side == "orch" else "bare_server.py")
    return elapsed, rss


async def startups(
    envs: dict[str, dict[str, str]], starts: int, errlog: TextIO
) -> dict[str, tuple[list[float], list[int]]]:
    measured: dict[str, tuple[list[float], list[int]]] = {side: ([], []) for side in SIDES}
    for side in SIDES:  # unmeasured: page cache, .pyc files, orch's first migration
        await start_once(side, envs[side], errlog)
    for number in range(starts):
        for side in SIDES if number % 2 == 0 else SIDES[::-1]:
            elapsed, rss = await start_once(side, envs[side], errlog)
            measured[side][0].append(elapsed)
            measured[side][1].append(rss)
    return measured


async def timed_block(action: Timed, count: int) -> list[float]:
    return [await action() for _ in range(count)]


def timer(action: Callable[[], Awaitable[Any]]) -> Timed:
    async def timed() -> float:
        began = time.perf_counter()
        await action()
        return time.perf_counter() - began

    return timed


async def per_call_round(
    root: Path, index: int, answer: Path, sizes: tuple[int, int, int], errlog: TextIO
) -> dict[str, dict[str, list[float]]]:
    """One fresh orch and one fresh bare server; interleaved reads, then write pairs."""
    reads, pairs, warmup = sizes
    env = make_home(root / f"orch-{index}", SETTINGS)
    project = str(Path(env["HOME"]) / "project")
    counter = iter(range(10**9))
    async with AsyncExitStack() as stack:
        orch = await connect(stack, orch_params(env), errlog)
        bare = await connect(stack, bare_params(bare_env(root / f"bare-{index}", answer)), errlog)
        status_id = await orch_session(orch, project, "bench", STATUS_AGENTS)
        writes_id = await orch_session(orch, project, "writes", 0)

        async def orch_pair() -> None:
            arguments = {"session_id": writes_id, "name": f"w{next(counter)}"}
            created = await call(orch, "create_agent", arguments)
            await call(orch, "delete_agent", {"agent_id": created["agent_id"]})

        async def bare_pair() -> None:
            await call(bare, "record", {"name": f"w{next(counter)}"})
            await call(bare, "record", {"name": f"w{next(counter)}"})

        actions = {
            "read": {
                "orch": timer(lambda: call(orch, "get_session_status", {"session_id": status_id})),
                "bare": timer(lambda: call(bare, "get_session_status", {"session_id": status_id})),
            },
            "write_pair": {"orch": timer(orch_pair), "bare": timer(bare_pair)},
        }
        measured: dict[str, dict[str, list[float]]] = {
            kind: {side: [] for side in SIDES} for kind in actions
        }
        for kind, count in (("read", reads), ("write_pair", pairs)):
            for side in SIDES:
                await timed_block(actions[kind][side], warmup)
            block = min(BLOCK, count)
            for number in range(max(1, count // block)):
                for side in SIDES if (number + index) % 2 == 0 else SIDES[::-1]:
                    measured[kind][side] += await timed_block(actions[kind][side], block)
    return measured


def summarise(
    starts: dict[str, tuple[list[float], list[int]]],
    calls: dict[str, dict[str, list[float]]],
    rounds: int,
) -> dict[str, Any]:
    summary = header("bench_vs_bare.py")
    summary["rounds"] = rounds
    summary["status_agents"] = STATUS_AGENTS
    for kind in ("read", "write_pair"):
        sides = {side: stats_ms(calls[kind][side]) for side in SIDES}
        summary[kind] = compare(sides["orch"], sides["bare"], TARGETS[kind])
    sides = {side: stats_ms(starts[side][0]) for side in SIDES}
    summary["startup"] = compare(sides["orch"], sides["bare"], TARGETS["startup"])
    rss = {
        side: {
            "n": len(starts[side][1]),
            "median_mib": round(sorted(starts[side][1])[len(starts[side][1]) // 2] / 2**20, 1),
            "max_mib": round(max(starts[side][1]) / 2**20, 1),
        }
        for side in SIDES
    }
    summary["idle_rss"] = compare(rss["orch"], rss["bare"], TARGETS["idle_rss"], "median_mib")
    return summary


def print_table(summary: dict[str, Any]) -> None:
    def row(kind: str, title: str, field: str, unit: str) -> Row:
        item = summary[kind]
        orch, bare = item["orch"], item["baseline"]
        extra = f" (p99 {orch['p99_ms']:.2f} / {bare['p99_ms']:.2f})" if "p99_ms" in orch else ""
        ratio = f"{item['ratio']:.2f}" + (f" (p99 {item['p99_ratio']:.2f})" if extra else "")
        return (
            title,
            f"{orch[field]:.2f} {unit}{extra}",
            f"{bare[field]:.2f} {unit}",
            ratio,
            f"<= {item['target_ratio']}",
            item["passed"],
        )

    print_rows(
        [
            row("read", "read: get_session_status", "median_ms", "ms"),
            row("write_pair", "write: create+delete agent", "median_ms", "ms"),
            row("startup", "start-up to tools/list", "median_ms", "ms"),
            row("idle_rss", "idle RSS", "median_mib", "MiB"),
        ]
    )


async def run(starts: int, rounds: int, sizes: tuple[int, int, int]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="orch-bench-") as directory:
        root = Path(directory)
        with (root / "servers.log").open("w", encoding="utf-8") as errlog:
            orch_env, answer = await probe(root, errlog)
            envs = {"orch": orch_env, "bare": bare_env(root / "bare-starts", answer)}
            started = await startups(envs, starts, errlog)
            calls: dict[str, dict[str, list[float]]] = {
                kind: {side: [] for side in SIDES} for kind in ("read", "write_pair")
            }
            for index in range(rounds):
                measured = await per_call_round(root, index, answer, sizes, errlog)
                for kind, sides in measured.items():
                    for side, values in sides.items():
                        calls[kind][side] += values
    return summarise(started, calls, rounds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--starts", type=int, default=10, help="start-ups per side")
    parser.add_argument("--rounds", type=int, default=5, help="fresh server pairs for calls")
    parser.add_argument("--reads", type=int, default=300, help="timed reads per side per round")
    parser.add_argument("--pairs", type=int, default=100, help="timed write pairs a side a round")
    parser.add_argument("--results", type=Path, default=None, help=f"default {RESULTS}")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, to check it runs")
    arguments = parser.parse_args(argv)
    starts, rounds = arguments.starts, arguments.rounds
    sizes = (arguments.reads, arguments.pairs, 20)
    if arguments.smoke:
        starts, rounds, sizes = 1, 1, (10, 4, 2)
    summary = asyncio.run(run(starts, rounds, sizes))
    print_table(summary)
    publish(arguments.results, arguments.smoke, KEY, summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
