"""A deterministic stream of decided event batches, for the store's crash test.

:func:`batches` drives ``orch_core.decide`` with a seeded random choice of
commands (every kind, failures included) and groups several decisions' events
into one batch, yielding each batch with the state after it. The same seed gives
the same batches in any process.

Run as a script (``python store_workload.py DB ROOT SEED``) it records the
batches into the database at ``DB`` until it is killed, printing the number of
batches committed after each commit.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator
from pathlib import Path

from returns.result import Success

from orch_core import (
    AGENT_PREFIX,
    CONVERSATION_PREFIX,
    SESSION_PREFIX,
    TURN_PREFIX,
    AgentId,
    ClearConversation,
    Command,
    ConversationId,
    CreateAgent,
    CreateSession,
    DeleteAgent,
    DeleteSession,
    EndTurn,
    Event,
    Limits,
    Policy,
    Principal,
    ProcessInfo,
    RecordProcess,
    SendMessage,
    SessionId,
    StartNewConversation,
    State,
    TurnId,
    TurnOutcome,
    TurnStatus,
    Usage,
    decide,
    replay,
)
from orch_shell._store import Store
from tests.core.scenario import directory

PRINCIPAL = Principal(subject="local:test")
POLICY = Policy(
    limits=Limits(max_sessions_per_principal=3, max_agents_per_session=4),
    permission_modes=("default", "acceptEdits", "plan"),
    allowed_roots=("/",),
)


def decide_and_record(
    store: Store, state: State, command: Command
) -> tuple[State, tuple[Event, ...] | None]:
    """Decide ``command``; if it succeeds, record its events in ``store`` (one
    transaction) and evolve ``state``. The new state and the events (``None`` on failure)."""
    result = decide(state, command, POLICY)
    if not isinstance(result, Success):
        return state, None
    events = result.unwrap().events
    store.apply(events)
    return replay(events, state), events


def batches(
    root: str, seed: int, decisions_per_batch: int = 6
) -> Iterator[tuple[tuple[Event, ...], State]]:
    """Endless (events, state after them) pairs; failed decisions add no events."""
    rng = random.Random(seed)
    state = State()
    n = 0
    while True:
        events: list[Event] = []
        for _ in range(decisions_per_batch):
            n += 1
            result = decide(state, _command(rng, state, root, n), POLICY)
            if isinstance(result, Success):
                decided = result.unwrap().events
                state = replay(decided, state)
                events.extend(decided)
        yield tuple(events), state


def _command(rng: random.Random, state: State, root: str, n: int) -> Command:  # noqa: PLR0911
    now = float(n) + rng.random()
    sessions = sorted(state.sessions)
    agents = sorted(state.agents)
    running = sorted(t.id for t in state.turns.values() if t.status is TurnStatus.RUNNING)
    kind = rng.randrange(10)
    if not sessions or kind == 0:
        return CreateSession(
            principal=PRINCIPAL,
            name=rng.choice(["alpha", "beta", "gamma", "delta"]),
            root=directory(root),
            description=rng.choice(["", "a project", "ünïcode ✓"]),
            new_id=SessionId(f"{SESSION_PREFIX}{n:016x}"),
            now=now,
        )
    if not agents or kind == 1:
        return CreateAgent(
            principal=PRINCIPAL,
            session_id=rng.choice(sessions),
            name=rng.choice(["coder", "reviewer", "tester", "writer", "planner"]),
            role="You review code.",
            model=rng.choice([None, "sonnet"]),
            permission_mode=rng.choice([None, "plan"]),
            new_id=AgentId(f"{AGENT_PREFIX}{n:016x}"),
            new_conversation_id=ConversationId(f"{CONVERSATION_PREFIX}{n:016x}"),
            now=now,
        )
    agent_id = rng.choice(agents)
    if running and kind in (2, 3, 4):
        return _turn_command(rng, rng.choice(running), n, now, record=kind == 2)
    if kind in (5, 6):
        return SendMessage(
            principal=PRINCIPAL,
            agent_id=agent_id,
            message=f"message {n}",
            new_turn_id=TurnId(f"{TURN_PREFIX}{n:016x}"),
            now=now,
        )
    if kind == 7:
        return ClearConversation(
            principal=PRINCIPAL,
            agent_id=agent_id,
            new_conversation_id=ConversationId(f"{CONVERSATION_PREFIX}{n:016x}"),
            now=now,
        )
    if kind == 8:
        return StartNewConversation(
            principal=PRINCIPAL,
            agent_id=agent_id,
            initial_message=rng.choice([None, f"first {n}"]),
            new_conversation_id=ConversationId(f"{CONVERSATION_PREFIX}{n:016x}"),
            new_turn_id=TurnId(f"{TURN_PREFIX}{n:016x}"),
            now=now,
        )
    if rng.random() < 0.7:
        return DeleteAgent(principal=PRINCIPAL, agent_id=agent_id)
    return DeleteSession(principal=PRINCIPAL, session_id=rng.choice(sessions), force=True)


def _turn_command(
    rng: random.Random, turn_id: TurnId, n: int, now: float, *, record: bool
) -> Command:
    if record:
        process = ProcessInfo(pid=1000 + n, pgid=1000 + n, start_time=now - 0.5)
        return RecordProcess(turn_id=turn_id, process=process)
    status = rng.choice(list(TurnStatus))  # RUNNING is refused by decide: a failure case
    return EndTurn(
        turn_id=turn_id,
        now=now,
        outcome=TurnOutcome(
            status=status,
            reply=f"reply {n}" if status is TurnStatus.COMPLETED else None,
            error_code=None if status is TurnStatus.COMPLETED else "TURN_FAILED",
            error=None if status is TurnStatus.COMPLETED else "it broke",
            cost_usd=rng.random() / 10,
            duration_ms=rng.randrange(10_000),
            num_turns=rng.randrange(5),
            usage=Usage(input_tokens=rng.randrange(1000), output_tokens=rng.randrange(1000)),
            permission_denials=tuple(rng.sample(["Bash", "Write", "Edit"], rng.randrange(3))),
            claude_session_id=rng.choice([None, f"claude-{n}"]),
        ),
    )


def reloaded(path: Path) -> State:
    """The state in the database at ``path``, read through a freshly opened store."""
    with Store.open(path) as store:
        return store.load()


def main(argv: list[str]) -> None:
    database, root, seed = Path(argv[1]), argv[2], int(argv[3])
    with Store.open(database) as store:
        for count, (events, _state) in enumerate(batches(root, seed), start=1):
            store.apply(events)
            print(count, flush=True)


if __name__ == "__main__":
    main(sys.argv)
