"""How long ``Store.load()`` takes for a large state (the server's start-up cost).

Usage: ``python bench/bench_store_load.py [AGENTS] [TURNS]`` (defaults 10,000 and
100,000). Builds the database with hand-made events in a few large batches (going
through ``decide`` would measure the core, not the store), then times
``load()`` on a freshly opened store, best of three.

Measured 2026-11-25 on a shared 2-core Linux VM (load average 2.5-4.5 from other
jobs, Python 3.11.7, SQLite 3.40.1), each turn with a ~240-byte message and a
~350-byte reply:

=========  ==========  =====  ===========
agents     turns       file   load()
=========  ==========  =====  ===========
1,000      10,000      9 MB   99 ms
10,000     10,000      13 MB  203-232 ms
10,000     100,000     95 MB  1.1-1.6 s
=========  ==========  =====  ===========

About a third is SQLite handing over the rows, the rest building the attrs
values (``Turn`` and ``Usage`` run their validators; switching validators off
saved under 10%).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

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
    TurnStarted,
    TurnStatus,
    Usage,
)
from orch_shell._store import Store

AGENTS_PER_SESSION = 16


def build(store: Store, agents: int, turns: int) -> None:
    events: list[Event] = []
    agent_ids: list[tuple[AgentId, ConversationId]] = []
    for a in range(agents):
        session_id = SessionId(f"ses_{a // AGENTS_PER_SESSION:016x}")
        if a % AGENTS_PER_SESSION == 0:
            session = Session(
                id=session_id,
                owner="local:bench",
                name=f"s{a}",
                root_path="/srv/bench",
                description="",
                created_at=1.0,
            )
            events.append(SessionCreated(session=session))
        agent_id, conversation_id = AgentId(f"agt_{a:016x}"), ConversationId(f"cnv_{a:016x}")
        agent_ids.append((agent_id, conversation_id))
        conversation = Conversation(
            id=conversation_id, agent_id=agent_id, status=ConversationStatus.ACTIVE, created_at=1.0
        )
        agent = Agent(
            id=agent_id,
            session_id=session_id,
            name=f"agent{a % AGENTS_PER_SESSION}",
            role="You help.",
            model=None,
            permission_mode=None,
            created_at=1.0,
            conversation_id=conversation_id,
        )
        events.append(AgentCreated(agent=agent, conversation=conversation))
    store.apply(events)
    for start in range(0, turns, 10_000):
        events = []
        for t in range(start, min(turns, start + 10_000)):
            agent_id, conversation_id = agent_ids[t % agents]
            turn_id = TurnId(f"trn_{t:016x}")
            turn = Turn(
                id=turn_id,
                agent_id=agent_id,
                conversation_id=conversation_id,
                number=t // agents + 1,
                message="please review the change in src/ and say what is wrong " * 4,
                status=TurnStatus.RUNNING,
                started_at=float(t),
            )
            events.append(TurnStarted(turn=turn))
            events.append(
                TurnEnded(
                    turn_id=turn_id,
                    status=TurnStatus.COMPLETED,
                    finished_at=float(t) + 1,
                    reply="Looks fine; two nits about naming. " * 10,
                    cost_usd=0.0123,
                    duration_ms=4000,
                    num_turns=3,
                    usage=Usage(input_tokens=1200, output_tokens=300),
                    claude_session_id=f"claude-{t}",
                )
            )
        store.apply(events)


def main(argv: list[str]) -> None:
    agents = int(argv[1]) if len(argv) > 1 else 10_000
    turns = int(argv[2]) if len(argv) > 2 else 100_000
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "orch.db"
        began = time.perf_counter()
        with Store.open(path) as store:
            build(store, agents, turns)
        built = time.perf_counter() - began
        best = float("inf")
        for _ in range(3):
            with Store.open(path) as store:
                began = time.perf_counter()
                state = store.load()
                best = min(best, time.perf_counter() - began)
        size = path.stat().st_size / 1e6
        print(
            f"{len(state.agents)} agents, {len(state.turns)} turns ({size:.0f} MB, "
            f"built in {built:.1f} s): load() best of 3 = {best * 1000:.0f} ms"
        )


if __name__ == "__main__":
    main(sys.argv)
