"""One server per data folder.

Each ``orch serve`` holds the whole state in memory and is the only writer of
its store; a second server on the same folder would decide on stale state and,
at start-up, mark the first one's running turns ``interrupted`` and kill them.
So ``serve`` takes an exclusive ``flock`` on ``<data dir>/orch.lock`` for its
lifetime. The kernel releases it when the process dies, however it dies, so a
``kill -9`` never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from returns.result import Failure, Result, Success


def lock_path(home: Path) -> Path:
    """The lock file of the data folder ``home``; it holds the serving pid."""
    return home / "orch.lock"


def acquire(home: Path) -> Result[int, str]:
    """The locked file descriptor (keep it open), or why the lock is taken."""
    path = lock_path(home)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
        os.close(fd)
        return Failure(
            f"another orch server (pid {holder}) is using the data folder {home}; stop it "
            "first, or give this one its own ORCH_HOME"
        )
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return Success(fd)
