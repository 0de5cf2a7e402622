"""A writer killed at any moment leaves whole decisions on disk, never part of one.

A child process (``store_workload.py``) records deterministic batches of events
and prints each count after its commit; the test SIGKILLs it at a random moment,
then checks the file is intact and holds exactly the first N batches, where N is
the last count printed or one more (committed, not yet printed).
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.shell.store_workload import batches, reloaded

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_killed_writer_leaves_a_prefix_of_whole_batches(tmp_path: Path, seed: int) -> None:
    db_path = tmp_path / "orch.db"
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.shell.store_workload",
            str(db_path),
            str(tmp_path),
            str(seed),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    target = random.Random(seed).randrange(20, 80)
    reported = 0
    while reported < target:
        line = child.stdout.readline()
        assert line, f"the writer stopped early (exit {child.poll()})"
        reported = int(line)
    time.sleep(random.Random(seed).random() / 200)  # land anywhere in a transaction
    os.kill(child.pid, signal.SIGKILL)
    reported = max([reported, *(int(line) for line in child.stdout.read().split())])
    child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL

    with sqlite3.connect(db_path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    loaded = reloaded(db_path)
    # Every printed batch was committed; at most one more was committed unprinted.
    candidates = []
    for count, (_events, state) in enumerate(batches(str(tmp_path), seed), start=1):
        if count >= reported:
            candidates.append(state)
        if count == reported + 1:
            break
    assert loaded in candidates
