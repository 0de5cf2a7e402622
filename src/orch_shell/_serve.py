"""``orch serve``: open the store, recover from a crash, serve MCP on stdio, shut down cleanly.

Shutdown is the same for SIGTERM, SIGINT and stdin EOF (Claude Desktop quitting):
stop taking calls, cancel running turns (TERM, grace, KILL), record them
``cancelled``, close the store, exit 0.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import signal
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import structlog
from returns.result import Failure

from orch_core import Policy, Principal, Settings

from . import _instance_lock as instance_lock
from ._orchestrator import Orchestrator
from ._paths import OrchPaths
from ._server import build_server
from ._service import OrchService
from ._stdio import serve_stdio_transport
from ._store import Store, StoreError
from ._turns import LiveTurns

log = structlog.get_logger("orch.serve")

#: A JSON-RPC line longer than this is refused (and the connection keeps working).
MAX_STDIO_LINE_BYTES = 4 * 1024 * 1024


def local_principal() -> Principal:
    """The user running the server (authentication arrives with tokens)."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no USER/LOGNAME and no passwd entry (some containers)
        user = str(os.getuid())
    return Principal(subject=f"local:{user}")


def allowed_roots(settings: Settings, environ: Mapping[str, str]) -> tuple[str, ...]:
    """The configured roots (default: the user's home), symlinks resolved."""
    roots = settings.server.allowed_roots or (environ.get("HOME") or str(Path.home()),)
    return tuple(os.path.realpath(root) for root in roots)


def policy_for(settings: Settings, environ: Mapping[str, str]) -> Policy:
    return Policy(
        limits=settings.limits,
        permission_modes=settings.claude.permission_modes,
        allowed_roots=allowed_roots(settings, environ),
    )


def open_orchestrator(
    settings: Settings, paths: OrchPaths, environ: Mapping[str, str]
) -> Orchestrator:
    """The orchestrator over the data dir's store (created on first use); the data
    dir must exist."""
    store = Store.open(paths.database)
    live = LiveTurns(claude=settings.claude, environ=environ, clock=time.time)
    return Orchestrator(
        store=store,
        settings=settings,
        policy=policy_for(settings, environ),
        live=live,
        clock=time.time,
    )


def serve_stdio(settings: Settings, paths: OrchPaths) -> int:
    """Run the stdio server until EOF or a signal; the process exit code."""
    os.environ.setdefault("FASTMCP_CHECK_FOR_UPDATES", "off")
    paths.home.mkdir(mode=0o700, parents=True, exist_ok=True)
    lock = instance_lock.acquire(paths.home)
    if isinstance(lock, Failure):
        print(f"orch: {lock.failure()}", file=sys.stderr)
        return 1
    try:
        orchestrator = open_orchestrator(settings, paths, os.environ)
    except StoreError as error:
        print(f"orch: cannot open the state store: {error}", file=sys.stderr)
        return 1
    try:
        return asyncio.run(_serve(orchestrator))
    finally:
        os.close(lock.unwrap())


async def _serve(orchestrator: Orchestrator) -> int:
    interrupted = await orchestrator.recover()
    if interrupted:
        log.warning("turns interrupted by a previous crash", turn_ids=interrupted)
    principal = local_principal()
    server = build_server(
        OrchService(orchestrator),
        lambda _ctx: principal,
        default_wait=orchestrator.settings.server.default_wait_seconds,
    )
    serving = asyncio.create_task(
        serve_stdio_transport(server, max_line_bytes=MAX_STDIO_LINE_BYTES)
    )
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, serving.cancel)
    log.info("serving on stdio", pid=os.getpid())
    try:
        await serving
    except asyncio.CancelledError:
        log.info("signal received: shutting down")
    else:
        log.info("stdin closed: shutting down")
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        await orchestrator.shutdown()
    log.info("stopped")
    return 0
