"""``orch serve --http`` as a real subprocess, and raw HTTP requests to it.

The server binds port 0 and logs the port it got (a JSON line on stderr); a
thread keeps draining stderr into ``logs`` so the server never blocks on a full
pipe and tests can look at what it logged. Raw requests use ``http.client`` so
the tests see status codes and headers exactly as sent.
"""

from __future__ import annotations

import http.client
import json
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import attrs

from tests.e2e.raw_client import INITIALIZE
from tests.harness import ORCH_BIN, World

__all__ = ["INITIALIZE", "HttpServer", "http_server"]

MCP_ACCEPT = "application/json, text/event-stream"


@attrs.define
class HttpServer:
    process: subprocess.Popen[bytes]
    port: int
    logs: list[str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """One request on a fresh connection: (status, headers lower-cased, body)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            payload = None if body is None else json.dumps(body).encode()
            sent = {"Content-Type": "application/json", "Accept": MCP_ACCEPT, **(headers or {})}
            connection.request(method, path, body=payload, headers=sent)
            response = connection.getresponse()
            return (
                response.status,
                {name.lower(): value for name, value in response.getheaders()},
                response.read(),
            )
        finally:
            connection.close()

    def post(
        self, body: Any, token: str | None, **headers: str
    ) -> tuple[int, dict[str, str], bytes]:
        """A JSON-RPC POST to ``/mcp`` with ``token`` as the bearer (None: no header)."""
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return self.request("POST", "/mcp", body, headers)


@contextmanager
def http_server(world: World, *args: str, **env: str) -> Iterator[HttpServer]:
    """Start ``orch serve --http --port 0`` in ``world``; stop it with SIGTERM after."""
    process = subprocess.Popen(
        [str(ORCH_BIN), "serve", "--http", "--port", "0", *args],
        env=world.server_env(**env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    logs: list[str] = []
    ready = threading.Event()
    port: list[int] = []

    def drain() -> None:
        assert process.stderr is not None
        for raw in process.stderr:
            line = raw.decode(errors="replace")
            logs.append(line)
            if not port and '"serving on http"' in line:
                port.append(int(json.loads(line)["port"]))
                ready.set()
        ready.set()

    threading.Thread(target=drain, daemon=True).start()
    try:
        if not ready.wait(30) or not port:
            raise AssertionError(f"the HTTP server did not start: {''.join(logs)}")
        yield HttpServer(process=process, port=port[0], logs=logs)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        time.sleep(0)  # let the drain thread see EOF
