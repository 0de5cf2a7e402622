"""``kill -9`` of the server at random points of a scripted workload, then a restart.

A seeded, pipelined workload runs many times over one world whose state
accumulates (recovery then works on a store that has been through every earlier
crash, as a user's would; one world per kill would only ever recover a fresh
store). After each restart: every call the client saw succeed is there, every turn
running at the kill is ``interrupted`` and nothing else changed, no agent process
survives, the audit chain verifies. The seed is ``ORCH_FAULT_SEED`` (default
:data:`SEED`) and is named in every failure; it fixes the workload and the kill
points, not the scheduler.
"""

from __future__ import annotations

import random
import time
from typing import Any

import attrs
import pytest

from tests import audit_kit
from tests.e2e.raw_client import INITIALIZE
from tests.faults.kit import (
    SEED,
    Server,
    agent_processes,
    no_agent_processes,
    sigkill,
    store_is_intact,
    tool_call,
    turns,
)
from tests.harness import World

RUNNING_TURNS = 4  # limits.max_running_turns_per_principal (the default)

#: Messages and their ``wait_seconds`` (None: the default wait, so the turn completes).
MESSAGES: tuple[tuple[str, float | None], ...] = (
    ("hello", None),
    ("#tools Bash\nhello", None),
    ("#sleep 1", 0),
    ("#hang", 0),
    ("#hang\n#grandchild", 0),
    ("#sleep 1\n#grandchild", 0),
)


@attrs.frozen(kw_only=True)
class Call:
    tool: str
    arguments: dict[str, Any]
    known: frozenset[str] = frozenset()
    """For ``list_sessions``: the sessions the client had seen created when it sent it."""


@attrs.define
class Seen:
    """What the client saw succeed, and the calls whose answer it never saw."""

    root: str  # the project folder sessions are created on
    sessions: dict[str, str] = attrs.Factory(dict)  # id -> name
    agents: dict[str, tuple[str, str]] = attrs.Factory(dict)  # id -> (session id, name)
    deleted: set[str] = attrs.Factory(set)  # agent ids
    completed: dict[str, str] = attrs.Factory(dict)  # turn id -> agent id
    busy: set[str] = attrs.Factory(set)  # agents that may run a turn under this server
    names: set[str] = attrs.Factory(set)  # every session and agent name ever sent
    in_flight: dict[int, Call] = attrs.Factory(dict)
    last_id: int = 1000

    def next_batch(self, rng: random.Random, tag: str) -> list[Call]:
        """1 to 3 calls, each valid whatever order the server runs them in."""
        batch: list[Call] = []
        targeted: set[str] = set()
        sessions = sorted(self.sessions, key=self.sessions.__getitem__)
        for number in range(rng.randint(1, 3)):
            agents = sorted(set(self.agents) - targeted, key=lambda a: self.agents[a][1])
            idle = [a for a in agents if a not in self.busy]
            roomy = [s for s in sessions if sum(v[0] == s for v in self.agents.values()) < 12]
            kinds = ["create_session", "list_sessions"]
            if sessions:
                kinds += ["get_session_status"]
            if roomy:
                kinds += ["create_agent", "create_agent"]
            if idle and len(self.busy) < RUNNING_TURNS:
                kinds += ["send"] * 5
            if agents:
                kinds += ["delete_agent"]
            kind = rng.choice(kinds)
            if kind == "create_session":
                self.names.add(name := f"s{tag}-{number}")
                call = Call(tool=kind, arguments={"name": name, "root_path": self.root})
            elif kind == "create_agent":
                self.names.add(name := f"a{tag}-{number}")
                call = Call(tool=kind, arguments={"session_id": rng.choice(roomy), "name": name})
            elif kind == "send":
                agent = rng.choice(idle)
                message, wait = rng.choice(MESSAGES)
                arguments: dict[str, Any] = {"agent_id": agent, "message": message}
                if wait is not None:
                    arguments["wait_seconds"] = wait
                targeted.add(agent)
                self.busy.add(agent)
                call = Call(tool="send_message_to_agent", arguments=arguments)
            elif kind == "delete_agent":
                targeted.add(agent := rng.choice(agents))
                call = Call(tool=kind, arguments={"agent_id": agent})
            elif kind == "get_session_status":
                call = Call(tool=kind, arguments={"session_id": rng.choice(sessions)})
            else:
                call = Call(tool=kind, arguments={}, known=frozenset(self.sessions))
            batch.append(call)
        return batch

    def answered(self, call: Call, answer: dict[str, Any], where: str) -> None:
        result = answer["result"]
        assert not result.get("isError"), (where, call, result)
        body = result["structuredContent"]
        if call.tool == "create_session":
            self.sessions[body["session_id"]] = body["name"]
        elif call.tool == "create_agent":
            self.agents[body["agent_id"]] = (body["session_id"], body["name"])
        elif call.tool == "send_message_to_agent":
            assert body["status"] in {"completed", "running"}, (where, call, body)
            if body["status"] == "completed":
                assert body["reply"].startswith("turn "), (where, body)
                self.completed[body["turn_id"]] = body["agent_id"]
                self.busy.discard(body["agent_id"])
        elif call.tool == "delete_agent":
            del self.agents[call.arguments["agent_id"]]
            self.deleted.add(call.arguments["agent_id"])
            self.busy.discard(call.arguments["agent_id"])  # its turn was cancelled
        elif call.tool == "list_sessions":
            listed = {s["session_id"] for s in body["sessions"]}
            assert call.known <= listed, (where, "a session seen created is not listed")


def run_and_kill(server: Server, seen: Seen, rng: random.Random, tag: str) -> None:
    """Pipeline batches of calls; after ``kill_after`` answers (and a random pause), kill -9."""
    kill_after, pause = rng.randint(0, 16), rng.uniform(0, 0.5)
    answers, step = 0, 0
    while True:
        step += 1
        for call in seen.next_batch(rng, f"{tag}-{step}"):
            seen.last_id += 1
            server.send(tool_call(seen.last_id, call.tool, call.arguments))
            seen.in_flight[seen.last_id] = call
        while seen.in_flight and answers < kill_after:
            message = server._read_message(60)
            if message.get("id") in seen.in_flight:  # not a notification
                seen.answered(seen.in_flight.pop(message["id"]), message, f"seed {SEED}, {tag}")
                answers += 1
        if answers >= kill_after:
            time.sleep(pause)
            sigkill(server)
            return


def check_recovered(
    server: Server, world: World, seen: Seen, before: dict[str, tuple[str, str]], where: str
) -> tuple[int, int]:
    """The restarted server kept what the client saw and interrupted what ran at the
    kill; then ``seen`` adopts the state (settling the calls lost in flight). Returns
    how many turns were interrupted, and how many completed ones were checked."""
    uncertain = {
        c.arguments["agent_id"] for c in seen.in_flight.values() if c.tool == "delete_agent"
    }
    listed = server.call("list_sessions")["sessions"]
    sessions = {s["session_id"]: s["name"] for s in listed}
    agents = {a["agent_id"]: (s["session_id"], a["name"]) for s in listed for a in s["agents"]}
    assert seen.sessions.items() <= sessions.items(), (where, "a created session is lost")
    assert set(sessions.values()) <= seen.names, (where, "a session nobody created")
    expected = {a: v for a, v in seen.agents.items() if a not in uncertain}
    assert expected.items() <= agents.items(), (where, "a created agent is lost")
    assert not seen.deleted & set(agents), (where, "a deleted agent is back")
    assert {name for _, name in agents.values()} <= seen.names, (where, "an agent nobody created")
    states = {a["agent_id"]: a["state"] for s in listed for a in s["agents"]}
    assert set(states.values()) <= {"idle"}, (where, states)

    after = turns(world)
    interrupted = {t: a for t, (a, status) in before.items() if status == "running"}
    assert after == {
        t: (a, "interrupted" if t in interrupted else status) for t, (a, status) in before.items()
    }, where
    for turn, agent in seen.completed.items():
        expected_row = (agent, "completed") if agent in agents else None
        assert after.get(turn) == expected_row, (where, "a completed turn changed", turn)
    views = {}  # what a user sees of the agents whose turn was interrupted
    for session_id in sorted({agents[a][0] for a in interrupted.values() if a in agents}):
        status = server.call("get_session_status", session_id=session_id)
        views.update({view["agent_id"]: view for view in status["agents"]})
    for turn, agent in interrupted.items():
        if agent in agents:
            last = views[agent]["last_reply"]
            assert (last["turn_id"], last["status"]) == (turn, "interrupted"), (where, last)
            assert "stopped while this turn was running" in last["error"], (where, last)
    assert no_agent_processes(world, timeout=5) == [], where
    store_is_intact(world)

    seen.deleted |= set(seen.agents) - set(agents)
    seen.sessions, seen.agents = sessions, agents
    seen.completed = {t: a for t, a in seen.completed.items() if a in agents}
    seen.busy.clear()
    seen.in_flight.clear()
    return len(interrupted), len(seen.completed)


def kill_9_at_random_points(world: World, kills: int) -> dict[str, int]:
    """``kills`` kills at random points, each followed by a checked restart; the totals."""
    print(f"ORCH_FAULT_SEED={SEED}")  # shown with a failure: the run to reproduce
    rng = random.Random(SEED)
    seen = Seen(root=str(world.project))
    totals = {"interrupted": 0, "survivors": 0, "in start-up": 0, "completed": 0}
    for kill in range(kills + 1):
        where = f"seed {SEED}, start {kill}"
        before = turns(world)
        totals["survivors"] += len(agent_processes(world))
        server = Server(world)
        try:
            if 0 < kill < kills and rng.random() < 0.15:  # die during recovery or the handshake
                server.send(INITIALIZE)
                time.sleep(rng.uniform(0, 1.5))
                sigkill(server)
                totals["in start-up"] += 1
                continue
            server.initialize()
            interrupted, completed = check_recovered(server, world, seen, before, where)
            totals["interrupted"] += interrupted
            totals["completed"] += completed
            if kill == kills:
                assert server.close() == 0
                break
            run_and_kill(server, seen, rng, str(kill))
        finally:
            server.kill()
    code, output = audit_kit.verify(world)
    assert code == 0 and output.endswith("; 0 unsealed at the tail"), output
    print(totals, f"{len(seen.sessions)} sessions, {len(seen.agents)} agents")
    return totals


@pytest.mark.timeout(300)
def test_kill_9_at_random_points(world: World) -> None:
    kill_9_at_random_points(world, kills=3)


@pytest.mark.long
@pytest.mark.timeout(900)
def test_kill_9_at_random_points_20_times(world: World) -> None:
    totals = kill_9_at_random_points(world, kills=20)
    # The run did what it claims (20 kills do, whatever the seed; 3 might not): kills
    # caught turns running and agent processes alive, and completed turns were checked.
    assert totals["interrupted"] and totals["survivors"] and totals["completed"], totals
