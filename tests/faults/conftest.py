"""Fixtures of the fault suite: a fault world per test, and nothing left behind.

Whatever a fault test ends with, no agent process and no ``orch serve`` of its
world outlives it: a failing test may leave them behind (that is often what it
found); they are killed here after the test, so one failure does not leak into
the machine or the next tests. The tests' own checks run before this.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.faults.kit import fault_world, leftovers
from tests.harness import World


@pytest.fixture
def world(tmp_path: Path) -> World:
    return fault_world(tmp_path)


@pytest.fixture(autouse=True)
def _reap_leftovers(tmp_path: Path) -> Iterator[None]:
    yield
    for process in leftovers(tmp_path):
        with contextlib.suppress(psutil.Error):
            process.kill()
