"""Stopping a turn's process group, whole and for certain, and only ours.

Each turn's CLI leads a process group of its own, so its tools and their children
can be stopped together: SIGTERM first (the real CLI only ends the Bash tools it
started in sessions of their own when its exit handlers get to run), then SIGKILL
after a grace period, then a wait until nothing of the group is left. Zombies
count as gone: they cannot be killed any further and their parent reaps them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time

import psutil

_REAP_SECONDS = 5.0  # how long to wait for SIGKILLed processes to vanish
_POLL_SECONDS = 0.05


def process_start_time(pid: int) -> float:
    """The start time that identifies ``pid``; 0.0 (matches nothing) if it is gone."""
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return 0.0


def kill_stale_group(pid: int, pgid: int, start_time: float, grace_seconds: float) -> bool:
    """Stop a turn's process group left by a crashed server; return whether any was killed.

    Start-up recovery only: ``pid`` may have been reused since, so the recorded
    ``start_time`` must match the live process within 0.01 s or nothing is touched.
    If the leader is gone, members of ``pgid`` started no earlier than ``start_time``
    are still proven ours: Linux does not reuse a number while it names a live
    process group, so they can only descend from that leader.
    """
    if start_time <= 0:
        return False
    try:
        if abs(psutil.Process(pid).create_time() - start_time) > 0.01:
            return False  # the pid now belongs to someone else
    except psutil.NoSuchProcess:
        pass
    except psutil.Error:
        return False
    members = [p for p in group_members(pgid) if _started_since(p, start_time)]
    if not members:
        return False
    for sig, wait in ((signal.SIGTERM, grace_seconds), (signal.SIGKILL, _REAP_SECONDS)):
        for member in members:
            with contextlib.suppress(psutil.Error):
                member.send_signal(sig)  # psutil refuses a process whose pid was reused
        deadline = time.monotonic() + wait
        while (members := [p for p in members if _alive(p)]) and time.monotonic() < deadline:
            time.sleep(_POLL_SECONDS)
        if not members:
            break
    return True


def _started_since(process: psutil.Process, start_time: float) -> bool:
    try:
        return process.create_time() >= start_time - 0.01
    except psutil.Error:
        return False


def _alive(process: psutil.Process) -> bool:
    """Running and not a zombie (an unreaped zombie cannot be killed any further)."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def group_members(pgid: int) -> list[psutil.Process]:
    """The live processes of group ``pgid``; zombies are already as dead as we can make them."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return []  # the cheap, usual answer: nobody is left
    except PermissionError:
        pass
    members = []
    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) == pgid and _alive(process):
                members.append(process)
        except OSError:
            continue
    return members


def signal_group(pgid: int, sig: signal.Signals) -> None:
    """Signal the whole group; an empty group is not an error."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


async def stop_group(pgid: int, grace_seconds: float) -> None:
    """TERM the group, give it ``grace_seconds``, KILL what is left, and wait until it is gone."""
    for sig, wait in ((signal.SIGTERM, grace_seconds), (signal.SIGKILL, _REAP_SECONDS)):
        if not group_members(pgid):
            return
        signal_group(pgid, sig)
        deadline = time.monotonic() + wait
        # no event exists for "a process group emptied" (pidfds cover one process only)
        while group_members(pgid) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(_POLL_SECONDS)
