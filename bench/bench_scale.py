"""Scale: status latency and restart time with a large store, against a store of one session.

Usage: ``python bench/bench_scale.py [--sessions 1000] [--agents 10] [--turns 100000]
[--rounds 5] [--calls 200] [--results bench/results.json] [--smoke]``.

Two data folders made by ``orch init`` (``max_sessions_per_principal``,
``max_agents_total`` raised; rates 0 = unlimited). Their databases are written
directly through the store with hand-made events (going through tool calls
would take an hour): the **big** one holds ``sessions`` sessions of ``agents``
agents and ``turns`` ended turns spread evenly over the agents (each turn with a
~240-byte message and a ~350-byte reply), the **small** one only the first of
those sessions, identical to the big one's (same ids, agents and turns). So
``get_session_status`` of that session answers the same bytes from both, and
what differs is only everything else the server holds. Each round:

* **restart**: an ``orch serve`` is started on each folder in turn (order
  alternating), timed from the spawn to the answer of its first tool call
  (``initialize``, then ``get_session_status``; the client lists the tools first
  to learn the output schema): loading the store and recovering are in it;
* **status**: interleaved blocks of sequential ``get_session_status`` calls.

Targets: big/small median status latency at most 1.1, and restart on the big
store under 1 s. Printed as a table and merged into the results file under
``scale``. ``--smoke`` runs 20 sessions and 2,000 turns once and writes results
only when ``--results`` is given.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, TextIO

from _common import (
    RESULTS,
    call,
    compare,
    connect,
    header,
    make_home,
    orch_params,
    print_rows,
    publish,
    stats_ms,
    token_subject,
)
from mcp import ClientSession

from orch_core import (
    Agent,
    AgentCreated,
    AgentId,
    Conversation,
    ConversationId,
    ConversationStatus,
    Event,
    Session,
    SessionCreated,
    SessionId,
    Turn,
    TurnEnded,
    TurnId,
    TurnOutcome,
    TurnStarted,
    TurnStatus,
    Usage,
)
from orch_shell._store import Store

KEY = "scale"
BLOCK = 50
STATUS_TARGET = 1.1
RESTART_TARGET_S = 1.0
SIDES = ("big", "small")
KINDS = ("status", "restart", "load")
BATCH = 10_000


def session_id(number: int) -> SessionId:
    return SessionId(f"ses_{number:016x}")


def structure(owner: str, root_path: str, sessions: int, agents: int) -> list[Event]:
    """``sessions`` sessions of ``agents`` agents each, every agent with a conversation."""
    events: list[Event] = []
    for s in range(sessions):
        session = Session(
            id=session_id(s),
            owner=owner,
            name=f"session{s}",
            root_path=root_path,
            description="",
            created_at=1.0,
        )
        events.append(SessionCreated(session=session))
        for a in range(agents):
            number = s * agents + a
            agent_id, conversation_id = (
                AgentId(f"agt_{number:016x}"),
                ConversationId(f"cnv_{number:016x}"),
            )
            agent = Agent(
                id=agent_id,
                session_id=session.id,
                name=f"agent{a}",
                role="You help.",
                model=None,
                permission_mode=None,
                created_at=1.0,
                conversation_id=conversation_id,
            )
            conversation = Conversation(
                id=conversation_id,
                agent_id=agent_id,
                status=ConversationStatus.ACTIVE,
                created_at=1.0,
            )
            events.append(AgentCreated(agent=agent, conversation=conversation))
    return events


def turn_events(number: int, agent_number: int, turn_number: int) -> list[Event]:
    """Turn ``turn_number`` of agent ``agent_number``: started, then completed."""
    turn_id = TurnId(f"trn_{number:016x}")
    turn = Turn(
        id=turn_id,
        agent_id=AgentId(f"agt_{agent_number:016x}"),
        conversation_id=ConversationId(f"cnv_{agent_number:016x}"),
        number=turn_number,
        message="please review the change in src/ and say what is wrong " * 4,
        status=TurnStatus.RUNNING,
        started_at=float(number),
    )
    outcome = TurnOutcome(
        status=TurnStatus.COMPLETED,
        reply="Looks fine; two nits about naming. " * 10,
        cost_usd=0.0123,
        duration_ms=4000,
        num_turns=3,
        usage=Usage(input_tokens=1200, output_tokens=300),
        claude_session_id=f"claude-{agent_number}",
    )
    return [
        TurnStarted(turn=turn),
        TurnEnded(turn_id=turn_id, finished_at=number + 1.0, outcome=outcome),
    ]


def build(database: Path, owner: str, root_path: str, shape: tuple[int, int, int]) -> None:
    """The database of ``sessions`` x ``agents`` agents and ``turns`` turns, agent by agent
    (so the first session's agents get the same turns whatever ``sessions`` is)."""
    sessions, agents, turns = shape
    total_agents = sessions * agents
    per_agent = turns // total_agents
    with Store.open(database) as store:
        store.apply(structure(owner, root_path, sessions, agents))
        events: list[Event] = []
        for agent_number in range(total_agents):
            for t in range(per_agent):
                events += turn_events(agent_number * per_agent + t, agent_number, t + 1)
            if len(events) >= 2 * BATCH:
                store.apply(events)
                events = []
        store.apply(events)


def make_folder(root: Path, shape: tuple[int, int, int]) -> dict[str, str]:
    sessions, agents, _ = shape
    settings = {
        "read_per_minute": 0,
        "max_sessions_per_principal": max(32, sessions),
        "max_agents_total": max(1024, sessions * agents),
        "max_agents_per_session": max(16, agents),
    }
    env = make_home(root, settings)
    project = str(Path(env["HOME"]) / "project")
    build(Path(env["ORCH_HOME"]) / "orch.db", token_subject(env), project, shape)
    return env


async def start(
    stack: AsyncExitStack, env: dict[str, str], errlog: TextIO
) -> tuple[float, ClientSession]:
    """Seconds from spawning ``orch serve`` to the answer of its first tool call, and
    the client (ends with ``stack``)."""
    began = time.perf_counter()
    session = await connect(stack, orch_params(env), errlog)
    await call(session, "get_session_status", {"session_id": session_id(0)})
    return time.perf_counter() - began, session


async def load_seconds(session: ClientSession) -> float:
    """How long the server's ``Store.load()`` took at start, from its own metrics."""
    metrics = await session.read_resource("orch://metrics")
    text = "".join(getattr(part, "text", "") for part in metrics.contents)
    found = re.search(
        r'^orch_store_operation_duration_seconds_sum\{operation="load"\} (\S+)$', text, re.M
    )
    if found is None:
        raise RuntimeError("orch://metrics has no store load time")
    return float(found.group(1))


async def status_block(session: ClientSession, count: int) -> list[float]:
    times = []
    for _ in range(count):
        began = time.perf_counter()
        await call(session, "get_session_status", {"session_id": session_id(0)})
        times.append(time.perf_counter() - began)
    return times


Measured = dict[str, dict[str, list[float]]]
"""What was measured, by kind (``restart``, ``load``, ``status``), then side, in seconds."""


async def one_round(
    envs: dict[str, dict[str, str]], index: int, calls: int, errlog: TextIO, measured: Measured
) -> None:
    """Start both servers (timed), then time interleaved status calls on both."""
    clients: dict[str, ClientSession] = {}
    async with AsyncExitStack() as stack:
        for side in SIDES if index % 2 == 0 else SIDES[::-1]:
            elapsed, clients[side] = await start(stack, envs[side], errlog)
            measured["restart"][side].append(elapsed)
        for side in SIDES:
            measured["load"][side].append(await load_seconds(clients[side]))
            await status_block(clients[side], 20)  # warm-up
        block = min(BLOCK, calls)
        for number in range(max(1, calls // block)):
            for side in SIDES if (number + index) % 2 == 0 else SIDES[::-1]:
                measured["status"][side] += await status_block(clients[side], block)


async def run(shape: tuple[int, int, int], rounds: int, calls: int) -> dict[str, Any]:
    sessions, agents, turns = shape
    measured: Measured = {kind: {side: [] for side in SIDES} for kind in KINDS}
    with tempfile.TemporaryDirectory(prefix="orch-bench-") as directory:
        root = Path(directory)
        began = time.perf_counter()
        envs = {
            "big": make_folder(root / "big", shape),
            "small": make_folder(root / "small", (1, agents, turns // sessions)),
        }
        built = time.perf_counter() - began
        megabytes = (Path(envs["big"]["ORCH_HOME"]) / "orch.db").stat().st_size / 1e6
        with (root / "servers.log").open("w", encoding="utf-8") as errlog:
            for index in range(rounds):
                await one_round(envs, index, calls, errlog, measured)
    summary = header("bench_scale.py")
    status, restart, load = (
        {side: stats_ms(measured[kind][side]) for side in SIDES} for kind in KINDS
    )
    summary.update(
        sessions=sessions,
        agents_per_session=agents,
        turns=turns,
        database_mb=round(megabytes, 1),
        build_s=round(built, 1),
        rounds=rounds,
        status=compare(status["big"], status["small"], STATUS_TARGET),
        restart={
            "orch": restart["big"],
            "baseline": restart["small"],
            "ratio": round(restart["big"]["median_ms"] / restart["small"]["median_ms"], 3),
            "target_ms": RESTART_TARGET_S * 1000,
            "passed": restart["big"]["median_ms"] < RESTART_TARGET_S * 1000,
        },
        store_load={"big": load["big"], "small": load["small"]},
    )
    return summary


def print_table(summary: dict[str, Any]) -> None:
    status, restart = summary["status"], summary["restart"]
    small, load = status["baseline"], summary["store_load"]
    print(
        f"big store: {summary['sessions']} sessions x {summary['agents_per_session']} agents, "
        f"{summary['turns']} turns, {summary['database_mb']} MB, built in {summary['build_s']} s"
    )
    print_rows(
        [
            (
                "scale: get_session_status",
                f"{status['orch']['median_ms']:.2f} ms (p99 {status['orch']['p99_ms']:.2f})",
                f"{small['median_ms']:.2f} ms (p99 {small['p99_ms']:.2f})",
                f"{status['ratio']:.2f} (p99 {status['p99_ratio']:.2f})",
                f"<= {STATUS_TARGET}",
                status["passed"],
            ),
            (
                "scale: restart to first answer",
                f"{restart['orch']['median_ms']:.0f} ms (max {restart['orch']['max_ms']:.0f})",
                f"{restart['baseline']['median_ms']:.0f} ms (1 session)",
                f"{restart['ratio']:.2f}",
                f"< {RESTART_TARGET_S * 1000:.0f} ms",
                restart["passed"],
            ),
            (
                "  of which Store.load (server metric)",
                f"{load['big']['median_ms']:.0f} ms",
                f"{load['small']['median_ms']:.1f} ms",
                "",
                "",
                None,
            ),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--agents", type=int, default=10, help="agents per session")
    parser.add_argument("--turns", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=200, help="timed calls a side a round")
    parser.add_argument("--results", type=Path, default=None, help=f"default {RESULTS}")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, to check it runs")
    arguments = parser.parse_args(argv)
    shape = (arguments.sessions, arguments.agents, arguments.turns)
    rounds, calls = arguments.rounds, arguments.calls
    if arguments.smoke:
        shape, rounds, calls = (20, 10, 2_000), 1, 10
    summary = asyncio.run(run(shape, rounds, calls))
    print_table(summary)
    publish(arguments.results, arguments.smoke, KEY, summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
