"""A stale pid at recovery: a running turn whose recorded pid now names an unrelated
process is marked ``interrupted`` and that process is left alone (its start time
differs); a turn whose process is still the recorded one is killed, grandchild
included.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
from typing import Any

import psutil
import pytest

from tests.faults.kit import (
    hanging_turn,
    no_agent_processes,
    sigkill,
    started,
    store_is_intact,
)
from tests.harness import World, wait_gone


def recorded_process(world: World, turn_id: str) -> tuple[int, int, float]:
    """The (pid, pgid, start time) the store holds for a turn."""
    with sqlite3.connect(f"file:{world.data / 'orch.db'}?mode=ro", uri=True) as db:
        row = db.execute(
            "SELECT pid, pgid, process_start_time FROM turns WHERE id = ?", (turn_id,)
        ).fetchone()
    return int(row[0]), int(row[1]), float(row[2])


def last_replies(status: dict[str, Any]) -> dict[str, tuple[str, str] | None]:
    """Each agent's last reply in a session status: (turn id, status), by agent name."""
    replies = {}
    for view in status["agents"]:
        last = view["last_reply"]
        replies[view["name"]] = None if last is None else (last["turn_id"], last["status"])
    return replies


@pytest.mark.timeout(120)
def test_recovery_kills_its_own_turns_but_not_a_reused_pid(world: World) -> None:
    """Two turns hang at a kill -9. One's processes then die and an unrelated process
    (its own session and group) gets its recorded pid and pgid, the start time left
    as recorded: recovery must leave that process alone. The other's processes are
    still the recorded ones: recovery must kill them, grandchild included."""
    server = started(world)
    try:
        session = server.call("create_session", name="s", root_path=str(world.project))
        stale, live = (
            server.call("create_agent", session_id=session["session_id"], name=name)["agent_id"]
            for name in ("stale", "live")
        )
        stale_turn, stale_pids = hanging_turn(server, world, stale)
        live_turn, live_pids = hanging_turn(server, world, live)
        sigkill(server)
    finally:
        server.kill()
    _, _, started_at = recorded_process(world, live_turn)
    assert recorded_process(world, live_turn) == (live_pids[0], live_pids[0], started_at)
    assert abs(psutil.Process(live_pids[0]).create_time() - started_at) <= 0.01
    pid, pgid, stale_start = recorded_process(world, stale_turn)
    assert (pid, pgid) == (stale_pids[0], stale_pids[0])
    os.killpg(pgid, signal.SIGKILL)
    assert wait_gone(stale_pids, timeout=10) == []

    stranger = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        # The check rests on the start time alone: it must differ by more than the 0.01 s
        # kill_stale_group allows, or this test would prove nothing.
        assert psutil.Process(stranger.pid).create_time() - stale_start > 0.01
        with contextlib.closing(sqlite3.connect(world.data / "orch.db")) as db, db:
            db.execute(
                "UPDATE turns SET pid = ?, pgid = ? WHERE id = ?",
                (stranger.pid, stranger.pid, stale_turn),
            )
        assert recorded_process(world, stale_turn) == (stranger.pid, stranger.pid, stale_start)
        store_is_intact(world)  # the turns table is state, not audit: the chain still verifies

        restarted = started(world)
        try:
            assert wait_gone(live_pids, timeout=5) == [], "recovery left its own turn running"
            assert stranger.poll() is None, "recovery killed a process that was not its own"
            status = restarted.call("get_session_status", session_id=session["session_id"])
            assert last_replies(status) == {
                "stale": (stale_turn, "interrupted"),
                "live": (live_turn, "interrupted"),
            }
            assert no_agent_processes(world, timeout=5) == []
            assert restarted.close() == 0
        finally:
            restarted.kill()
        assert stranger.poll() is None, "the stranger died with the server"
        store_is_intact(world)
    finally:
        stranger.kill()
        stranger.wait()
