"""Parallel turns: 32 agents each running a 2 s turn at once, and status latency meanwhile.

Usage: ``python bench/bench_parallel.py [--agents 32] [--turn-seconds 2] [--rounds 5]
[--results bench/results.json] [--smoke]``.

One ``orch serve`` (a folder made by ``orch init``; caps raised: 64 running turns,
64 per principal, 64 agents a session, rates 0 = unlimited) runs the test suite's
fake ``claude`` (``tests/fake_claude.py``; ``#sleep N`` makes a turn of N
seconds). A session gets ``agents`` agents and one unmeasured warm-up turn
each; then ``bench/bare_server.py`` starts, answering that session's status
(same bytes, same output schema). Each round, sides in alternating order:

* **idle**: 100 sequential ``get_session_status`` calls on each server;
* **orch**: every agent gets ``send_message_to_agent`` (``#sleep N``,
  ``wait_seconds`` 60) at once, concurrently on one stdio client; measured is
  the wall time from sending them all until every reply is in (each must be
  ``completed``), while a second task calls ``get_session_status`` every 10 ms;
* **bare**: the bare server gets as many ``run_turn`` calls at once, each running
  the fake ``claude`` (the message on stdin, stdout read to the end) with no
  bookkeeping: the floor of this machine. It is polled the same way meanwhile.

Targets: orch's median wall time at most 1.3 x the turn (2.6 s), and the p99
of ``get_session_status`` under that load at most 20 ms, as the client sees it.
orch's own share of each status call (the ``ms`` of its ``tool call`` log line,
matched to the idle and loaded time windows) is reported too: the rest is the
client (the ``mcp`` SDK validates each result against the output schema), the
pipe, and waiting for the server's event loop. Printed as a table and merged
into the results file under ``parallel_turns``. ``--smoke`` runs 4 agents
with 0.5 s turns once and writes results only when ``--results`` is given.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from _common import (
    FAKE_CLAUDE,
    RESULTS,
    Row,
    bare_params,
    call,
    connect,
    header,
    make_home,
    orch_params,
    print_rows,
    publish,
    stats_ms,
)
from mcp import ClientSession

KEY = "parallel_turns"
WALL_TARGET = 1.3
STATUS_P99_TARGET_MS = 20.0
POLL_INTERVAL = 0.01
IDLE_CALLS = 100
SETTINGS = {
    "read_per_minute": 0,
    "write_per_minute": 0,
    "message_per_minute": 0,
    "max_running_turns": 64,
    "max_running_turns_per_principal": 64,
    "max_agents_per_session": 64,
}
CLAUDE = [sys.executable, str(FAKE_CLAUDE)]
SIDES = ("orch", "bare")

Window = tuple[float, float]
Status = Callable[[], Awaitable[Any]]


async def send_all(session: ClientSession, agent_ids: list[str], message: str) -> float:
    """Seconds from sending ``message`` to every agent at once until all replied."""

    async def send(agent_id: str) -> None:
        arguments = {"agent_id": agent_id, "message": message, "wait_seconds": 60}
        reply = await call(session, "send_message_to_agent", arguments)
        if reply["status"] != "completed":
            raise RuntimeError(f"turn of {agent_id} ended {reply['status']}: {reply['error']}")

    began = time.perf_counter()
    await asyncio.gather(*(send(agent_id) for agent_id in agent_ids))
    return time.perf_counter() - began


async def bare_turns(bare: ClientSession, agents: int, message: str) -> float:
    """Seconds from asking the bare server for ``agents`` turns at once until all ended."""

    async def one() -> None:
        ended = await call(bare, "run_turn", {"message": message})
        if ended["exit_code"] != 0:
            raise RuntimeError(f"fake claude exited {ended['exit_code']}")

    began = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(agents)))
    return time.perf_counter() - began


async def poll(status: Status, times: list[float]) -> None:
    """Ask for the status every ``POLL_INTERVAL`` until cancelled."""
    while True:
        began = time.perf_counter()
        await status()
        times.append(time.perf_counter() - began)
        await asyncio.sleep(POLL_INTERVAL)


async def under_load(status: Status, load: Awaitable[float]) -> tuple[float, list[float]]:
    """The wall time of ``load``, and the status latencies while it ran."""
    times: list[float] = []
    poller = asyncio.create_task(poll(status, times))
    try:
        wall = await load
    finally:
        poller.cancel()
    return wall, times


async def setup(
    stack: AsyncExitStack, env: dict[str, str], agents: int, errlog: TextIO
) -> tuple[ClientSession, str, list[str]]:
    """orch with a session of ``agents`` agents, each after one (unmeasured) turn."""
    session = await connect(stack, orch_params(env), errlog)
    project = str(Path(env["HOME"]) / "project")
    created = await call(session, "create_session", {"name": "parallel", "root_path": project})
    session_id = str(created["session_id"])
    agent_ids = []
    for number in range(agents):
        arguments = {"session_id": session_id, "name": f"agent{number}"}
        agent_ids.append(str((await call(session, "create_agent", arguments))["agent_id"]))
    await send_all(session, agent_ids, "#sleep 0.1\nwarm up")
    return session, session_id, agent_ids


async def bare_server(
    stack: AsyncExitStack, orch: ClientSession, session_id: str, home: str, errlog: TextIO
) -> ClientSession:
    """The bare server: it answers the status orch gives now, under orch's output schema,
    and runs the fake ``claude`` in the same home and folder."""
    status = await call(orch, "get_session_status", {"session_id": session_id})
    tools = {tool.name: tool for tool in (await orch.list_tools()).tools}
    answer = Path(home).parent / "bare-status.json"
    schema = tools["get_session_status"].output_schema
    answer.write_text(json.dumps({"status": status, "schema": schema}), encoding="utf-8")
    env = {
        "FASTMCP_CHECK_FOR_UPDATES": "off",
        "BARE_STATUS": str(answer),
        "BARE_CLAUDE": shlex.join(CLAUDE),
        "BARE_CWD": str(Path(home) / "project"),
        "HOME": home,
    }
    return await connect(stack, bare_params(env), errlog)


class Measured:
    """Everything one run measured, in seconds, by side."""

    def __init__(self) -> None:
        self.walls: dict[str, list[float]] = {side: [] for side in SIDES}
        self.idle: dict[str, list[float]] = {side: [] for side in SIDES}
        self.loaded: dict[str, list[float]] = {side: [] for side in SIDES}
        self.windows: dict[str, list[Window]] = {"idle": [], "loaded": []}
        self.server: dict[str, list[float]] = {"idle": [], "loaded": []}


async def run(agents: int, turn: float, rounds: int) -> dict[str, Any]:
    message = f"#sleep {turn}\nwork for a while"
    measured = Measured()
    with tempfile.TemporaryDirectory(prefix="orch-bench-") as directory:
        root = Path(directory)
        env = make_home(root, SETTINGS, ORCH_CLAUDE_COMMAND=shlex.join(CLAUDE))
        log = root / "server.log"
        with log.open("w", encoding="utf-8") as errlog:
            async with AsyncExitStack() as stack:
                orch, session_id, agent_ids = await setup(stack, env, agents, errlog)
                bare = await bare_server(stack, orch, session_id, env["HOME"], errlog)
                await bare_turns(bare, agents, "#sleep 0.1\nwarm up")
                status = {
                    side: functools.partial(
                        call, client, "get_session_status", {"session_id": session_id}
                    )
                    for side, client in (("orch", orch), ("bare", bare))
                }
                for number in range(rounds):
                    order = SIDES if number % 2 == 0 else SIDES[::-1]
                    for side in order:
                        began = time.time()
                        for _ in range(IDLE_CALLS):
                            started = time.perf_counter()
                            await status[side]()
                            measured.idle[side].append(time.perf_counter() - started)
                        if side == "orch":
                            measured.windows["idle"].append((began, time.time()))
                    for side in order:
                        began = time.time()
                        if side == "orch":
                            load = send_all(orch, agent_ids, message)
                        else:
                            load = bare_turns(bare, agents, message)
                        wall, times = await under_load(status[side], load)
                        if side == "orch":
                            measured.windows["loaded"].append((began, time.time()))
                        measured.walls[side].append(wall)
                        measured.loaded[side] += times
        measured.server = server_side(log, measured.windows)
    summary = summarise(measured, turn)
    summary.update(agents=agents, turn_seconds=turn, rounds=rounds)
    return summary


def server_side(log: Path, windows: dict[str, list[Window]]) -> dict[str, list[float]]:
    """orch's own duration of each ``get_session_status`` (the ``ms`` of its ``tool
    call`` log line, in seconds) by the window it ended in: the server's share, without
    the client, the pipe, or the wait for the server's event loop to read the request."""
    found: dict[str, list[float]] = {kind: [] for kind in windows}
    for line in log.read_text(encoding="utf-8").splitlines():
        if '"tool call"' not in line:
            continue
        entry = json.loads(line)
        if entry.get("tool") != "get_session_status":
            continue
        at = datetime.fromisoformat(entry["timestamp"].replace("Z", "+00:00")).timestamp()
        for kind, spans in windows.items():
            if any(start <= at <= end for start, end in spans):
                found[kind].append(entry["ms"] / 1000)
    return found


def wall_stats(values: list[float]) -> dict[str, Any]:
    return {
        "n": len(values),
        "median_s": round(statistics.median(values), 3),
        "max_s": round(max(values), 3),
        "runs_s": [round(value, 3) for value in values],
    }


def summarise(measured: Measured, turn: float) -> dict[str, Any]:
    summary = header("bench_parallel.py")
    orch, bare = wall_stats(measured.walls["orch"]), wall_stats(measured.walls["bare"])
    loaded = {side: stats_ms(measured.loaded[side]) for side in SIDES}
    idle = {side: stats_ms(measured.idle[side]) for side in SIDES}
    server = {kind: stats_ms(times) if times else None for kind, times in measured.server.items()}
    summary.update(
        wall={
            "orch": orch,
            "bare_server": bare,
            "ratio_to_turn": round(orch["median_s"] / turn, 3),
            "ratio_to_bare": round(orch["median_s"] / bare["median_s"], 3),
            "target_ratio_to_turn": WALL_TARGET,
            "passed": orch["median_s"] <= WALL_TARGET * turn,
        },
        status={
            "under_load": loaded["orch"],
            "bare_under_load": loaded["bare"],
            "idle": idle["orch"],
            "bare_idle": idle["bare"],
            "server_side_under_load": server["loaded"],
            "server_side_idle": server["idle"],
            "p99_ratio_to_bare": round(loaded["orch"]["p99_ms"] / loaded["bare"]["p99_ms"], 3),
            "target_p99_ms": STATUS_P99_TARGET_MS,
            "passed": loaded["orch"]["p99_ms"] <= STATUS_P99_TARGET_MS,
        },
    )
    return summary


def print_table(summary: dict[str, Any]) -> None:
    wall, status = summary["wall"], summary["status"]
    turn = summary["turn_seconds"]

    def latency(side: dict[str, Any]) -> str:
        return f"p99 {side['p99_ms']:.2f} ms (median {side['median_ms']:.2f}, n {side['n']})"

    rows: list[Row] = [
        (
            f"wall: {summary['agents']} turns of {turn:g} s at once",
            f"{wall['orch']['median_s']:.2f} s (max {wall['orch']['max_s']:.2f})",
            f"{turn:g} s; bare server {wall['bare_server']['median_s']:.2f} s",
            f"{wall['ratio_to_turn']:.2f} x turn, {wall['ratio_to_bare']:.2f} x bare",
            f"<= {WALL_TARGET} x turn",
            wall["passed"],
        ),
        (
            "get_session_status under that load",
            latency(status["under_load"]),
            "bare server: " + latency(status["bare_under_load"]),
            f"p99 {status['p99_ratio_to_bare']:.2f} x bare",
            f"p99 <= {STATUS_P99_TARGET_MS:g} ms",
            status["passed"],
        ),
        (
            "get_session_status idle",
            latency(status["idle"]),
            "bare server: " + latency(status["bare_idle"]),
            "",
            "",
            None,
        ),
    ]
    loaded, idle = status["server_side_under_load"], status["server_side_idle"]
    if loaded is not None and idle is not None:
        rows.append(
            (
                "  orch's own share (its log)",
                f"under load {latency(loaded)}",
                f"idle {latency(idle)}",
                "",
                "",
                None,
            )
        )
    print_rows(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--agents", type=int, default=32)
    parser.add_argument("--turn-seconds", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--results", type=Path, default=None, help=f"default {RESULTS}")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, to check it runs")
    arguments = parser.parse_args(argv)
    agents, turn, rounds = arguments.agents, arguments.turn_seconds, arguments.rounds
    if arguments.smoke:
        agents, turn, rounds = 4, 0.5, 1
    summary = asyncio.run(run(agents, turn, rounds))
    print_table(summary)
    publish(arguments.results, arguments.smoke, KEY, summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
