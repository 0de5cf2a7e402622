"""``orch serve``: check the credentials, open the store, recover, serve, shut down.

Two transports share everything but the wire: stdio (what Claude Desktop
starts; the token comes from the environment) and HTTP (each request carries a
bearer token). A server that cannot authenticate anyone does not start: bad
``[auth]`` settings or, on stdio, an absent, malformed, expired or
wrong-audience token exit with code 2 and say why on stderr.

Shutdown is the same for SIGTERM, SIGINT and stdin EOF (Claude Desktop
quitting): stop taking calls, cancel running turns (TERM, grace, KILL), record
them ``cancelled``, close the store, exit 0.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any

import structlog
from fastmcp import FastMCP
from fastmcp.server.auth import AuthProvider
from returns.result import Failure

from orch_core import AuditKind, Policy, Settings

from . import _instance_lock as instance_lock
from ._audit_log import AuditLog, open_audit_log
from ._credentials import Authenticate, load_verifier, stdio_credentials
from ._health import Health
from ._local_issuer import security_policy
from ._metrics import Metrics
from ._orchestrator import Orchestrator
from ._paths import OrchPaths
from ._server import build_server
from ._service import OrchService
from ._store import Store, StoreError
from ._turns import LiveTurns
from ._version import version

log = structlog.get_logger("orch.serve")

EXIT_FAILED = 1
EXIT_CONFIG = 2

Transport = Callable[[FastMCP, Callable[[], None]], Coroutine[Any, Any, None]]
"""Serves the server until its client is gone; calls its second argument as soon as
it knows the client is leaving (stdin closed), before requests still running are
cancelled, so a cancelled wait is known to be the server's doing, not the client's."""
ServerHook = Callable[[FastMCP, Metrics, Health, AuditLog], None]
"""Called with the built server before it serves (HTTP adds its routes)."""


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


def server_metrics(settings: Settings) -> Metrics:
    """The metrics of one server (recording nothing when ``server.metrics`` is off)."""
    return Metrics(enabled=settings.server.metrics, version=version())


def open_orchestrator(
    settings: Settings, paths: OrchPaths, environ: Mapping[str, str], metrics: Metrics
) -> Orchestrator:
    """The orchestrator over the data dir's store (created on first use); the data
    dir must exist."""
    store = Store.open(paths.database)
    try:
        audit = open_audit_log(store, settings.audit, paths, time.time)
    except StoreError:
        store.close()
        raise
    live = LiveTurns(claude=settings.claude, environ=environ, clock=time.time)
    return Orchestrator(
        store=store,
        settings=settings,
        policy=policy_for(settings, environ),
        live=live,
        clock=time.time,
        metrics=metrics,
        audit=audit,
    )


def serve_stdio(settings: Settings, paths: OrchPaths, environ: Mapping[str, str]) -> int:
    """Run the stdio server until EOF or a signal; the process exit code."""
    from ._stdio import serve_stdio_transport  # noqa: PLC0415 - only this transport needs it

    verifier = load_verifier(settings, paths)
    credentials = verifier.bind(lambda loaded: stdio_credentials(loaded, environ))
    if isinstance(credentials, Failure):
        print(f"orch: cannot start: {credentials.failure()}", file=sys.stderr)
        return EXIT_CONFIG
    authenticate = credentials.unwrap()
    log.info("verifying tokens", how=verifier.unwrap().describe())

    async def transport(server: FastMCP, closing: Callable[[], None]) -> None:
        log.info("serving on stdio", pid=os.getpid())
        limit = settings.limits.max_stdio_line_bytes
        await serve_stdio_transport(server, max_line_bytes=limit, on_eof=closing)

    metrics = server_metrics(settings)
    return run_server(settings, paths, authenticate, transport, stop_on_eof=True, metrics=metrics)


def run_server(
    settings: Settings,
    paths: OrchPaths,
    authenticate: Authenticate,
    transport: Transport,
    *,
    stop_on_eof: bool,
    metrics: Metrics,
    auth: AuthProvider | None = None,
    on_server: ServerHook | None = None,
) -> int:
    """Take the instance lock, open the store, serve until the transport ends or a
    signal arrives, then shut down cleanly."""
    os.environ.setdefault("FASTMCP_CHECK_FOR_UPDATES", "off")
    paths.home.mkdir(mode=0o700, parents=True, exist_ok=True)
    lock = instance_lock.acquire(paths.home)
    if isinstance(lock, Failure):
        print(f"orch: {lock.failure()}", file=sys.stderr)
        return EXIT_FAILED
    try:
        orchestrator = open_orchestrator(settings, paths, os.environ, metrics)
    except StoreError as error:
        print(f"orch: cannot open the state store: {error}", file=sys.stderr)
        return EXIT_FAILED
    try:
        health = Health(orchestrator, environ=os.environ, version=version())
        server = build_server(
            OrchService(orchestrator),
            authenticate,
            scopes=security_policy(settings, paths).scopes,
            default_wait=settings.server.default_wait_seconds,
            auth=auth,
            health=health,
        )
        if on_server is not None and orchestrator.audit is not None:
            on_server(server, metrics, health, orchestrator.audit)
        return asyncio.run(_serve(orchestrator, server, transport, stop_on_eof=stop_on_eof))
    finally:
        os.close(lock.unwrap())


async def _serve(
    orchestrator: Orchestrator, server: FastMCP, transport: Transport, *, stop_on_eof: bool
) -> int:
    interrupted = await orchestrator.recover()
    if interrupted:
        log.warning("turns interrupted by a previous crash", turn_ids=interrupted)
    sealing = None
    if orchestrator.audit is not None:
        # Not fatal when it fails: every tool call then fails closed on its own record.
        orchestrator.audit.append(
            AuditKind.SERVER_START,
            {"pid": os.getpid(), "version": version(), "interrupted_turns": list(interrupted)},
        )
        sealing = asyncio.create_task(orchestrator.audit.run_sealer())

    def closing() -> None:
        orchestrator.closing = True  # cancelled waits are now ours: shutdown records them

    serving = asyncio.create_task(transport(server, closing))
    loop = asyncio.get_running_loop()

    def stop() -> None:
        closing()
        serving.cancel()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop)
    try:
        await serving
    except asyncio.CancelledError:
        log.info("signal received: shutting down")
    else:
        log.info("stdin closed: shutting down" if stop_on_eof else "transport ended")
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        if sealing is not None:
            sealing.cancel()
        await orchestrator.shutdown()  # records the stop and seals the audit chain
    log.info("stopped")
    return 0
