"""``orch serve --http``: the same server over streamable HTTP, for deployments where
clients connect over the network (behind an identity provider, usually).

It binds loopback by default; another address needs ``--allow-remote``, because
orch speaks plain HTTP and bearer tokens must then travel over TLS terminated in
front of it. The socket is bound before serving so ``--port 0`` works and the
advertised metadata URL names the real port.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
import time
from collections.abc import Callable, Iterator

import structlog
import uvicorn
from fastmcp import FastMCP
from returns.result import Failure
from starlette.middleware import Middleware

from orch_core import AuditKind, Settings

from ._audit_log import AuditLog
from ._credentials import load_verifier
from ._health import Health
from ._http import LOOPBACK_HOSTS, MCP_PATH, OrchTokenVerifier, ScopeGuard, http_authenticate
from ._metrics import Metrics
from ._monitoring_edge import add_monitoring_routes
from ._paths import OrchPaths
from ._serve import EXIT_CONFIG, EXIT_FAILED, run_server, server_metrics

log = structlog.get_logger("orch.http")

MAX_HEADER_BYTES = 2 * 1024 * 1024


class _Uvicorn(uvicorn.Server):
    """uvicorn without its own signal handlers: orch's shutdown owns SIGTERM/SIGINT."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def serve_http(
    settings: Settings,
    paths: OrchPaths,
    *,
    host: str,
    port: int,
    allow_remote: bool,
    public_url: str | None = None,
) -> int:
    """Serve MCP over HTTP on ``host:port`` until a signal; the process exit code."""
    if host not in LOOPBACK_HOSTS and not allow_remote:
        print(
            f"orch: refusing to listen on {host}: it is not loopback. Put TLS in front of "
            "orch and pass --allow-remote to do it anyway.",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    loaded = load_verifier(settings, paths)
    if isinstance(loaded, Failure):
        print(f"orch: cannot start: {loaded.failure()}", file=sys.stderr)
        return EXIT_CONFIG
    verifier = loaded.unwrap()
    log.info("verifying tokens", how=verifier.describe())
    try:
        listener = _bind(host, port)
    except OSError as error:
        print(f"orch: cannot listen on {host}:{port}: {error.strerror}", file=sys.stderr)
        return EXIT_FAILED
    bound_port = listener.getsockname()[1]
    base_url = (public_url or f"http://{_url_host(host)}:{bound_port}").rstrip("/")
    metrics = server_metrics(settings)
    audit_logs: list[AuditLog] = []  # the server's, once run_server has opened it

    def auth_failure(reason: str) -> None:
        metrics.auth_failure(reason)
        for audit in audit_logs:
            audit.append(AuditKind.AUTH_FAILURE, {"transport": "http", "reason": reason})

    auth = OrchTokenVerifier(verifier, time.time, base_url, on_failure=auth_failure)
    scopes = verifier.policy.scopes
    metadata_url = f"{base_url}/.well-known/oauth-protected-resource{MCP_PATH}"

    def monitoring(server: FastMCP, metrics: Metrics, health: Health, audit: AuditLog) -> None:
        audit_logs.append(audit)
        # Only a server that is not reached through a proxy can tell a local client.
        local_only = host in LOOPBACK_HOSTS and not allow_remote and public_url is None
        add_monitoring_routes(
            server,
            metrics,
            health,
            trust_loopback=local_only,
            scopes=scopes,
            metadata_url=metadata_url,
        )

    async def transport(server: FastMCP, _closing: Callable[[], None]) -> None:
        # Only a signal ends this transport, and run_server marks that as closing.
        app = server.http_app(
            path=MCP_PATH,
            middleware=[
                Middleware(
                    ScopeGuard,
                    scopes=scopes,
                    metadata_url=metadata_url,
                    max_body_bytes=settings.limits.max_stdio_line_bytes,
                )
            ],
            host_origin_protection="auto",
        )
        config = uvicorn.Config(
            app,
            http="h11",
            # Room for a header holding an oversized token, so it reaches the
            # verifier (a 401 saying why) instead of a bare 400; still bounded.
            h11_max_incomplete_event_size=MAX_HEADER_BYTES,
            log_config=None,
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=3,
        )
        runner = _Uvicorn(config)
        serving = asyncio.create_task(runner.serve(sockets=[listener]))
        log.info("serving on http", url=f"{base_url}{MCP_PATH}", port=bound_port)
        try:
            await asyncio.shield(serving)
        except asyncio.CancelledError:
            runner.should_exit = True  # graceful: finish answering, then stop
            await serving
            raise

    try:
        return run_server(
            settings,
            paths,
            http_authenticate(verifier, time.time),
            transport,
            stop_on_eof=False,
            metrics=metrics,
            auth=auth,
            on_server=monitoring,
        )
    finally:
        listener.close()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio turns Nagle off (TCP_NODELAY) only on sockets whose
    # proto says TCP. With 0, each answer's body waited ~40 ms for the client's delayed
    # ACK of its headers (measured: 44 ms a call, 2.7 ms with this).
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(128)
    listener.setblocking(False)
    return listener


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
