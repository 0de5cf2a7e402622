"""A deliberately plain MCP stdio client: JSON-RPC lines over a subprocess's pipes.

The SDK clients hide the server process; crash and signal tests need its pid, so
this one owns a ``subprocess.Popen`` and speaks the legacy (2025-11-25)
handshake that Claude Desktop uses.
"""

from __future__ import annotations

import json
import selectors
import subprocess
import time
from typing import Any

from tests.harness import ORCH_BIN, World

PROTOCOL = "2025-11-25"

INITIALIZE_PARAMS: dict[str, Any] = {
    "protocolVersion": PROTOCOL,
    "capabilities": {},
    "clientInfo": {"name": "orch-tests", "version": "0"},
}
"""The legacy handshake's ``initialize`` parameters, as Claude Desktop sends them."""
INITIALIZE: dict[str, Any] = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": INITIALIZE_PARAMS,
}
"""The whole ``initialize`` request, for tests that write raw JSON-RPC."""


class RawServer:
    """``orch serve`` as a child process, with a line-by-line JSON-RPC client."""

    def __init__(self, world: World, **env: str) -> None:
        self.process = subprocess.Popen(
            [str(ORCH_BIN), "serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=world.server_env(**env),
        )
        self._next_id = 0
        self._buffer = b""

    @property
    def pid(self) -> int:
        return self.process.pid

    def send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message).encode() + b"\n")
        self.process.stdin.flush()

    def request(
        self, method: str, params: dict[str, Any] | None = None, timeout: float = 30
    ) -> dict[str, Any]:
        self._next_id += 1
        ident = self._next_id
        self.send({"jsonrpc": "2.0", "id": ident, "method": method, "params": params or {}})
        deadline = time.monotonic() + timeout
        while True:
            message = self._read_message(deadline - time.monotonic())
            if message.get("id") == ident:
                return message

    def initialize(self) -> dict[str, Any]:
        answer = self.request("initialize", INITIALIZE_PARAMS)
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return answer

    def call(self, tool: str, **arguments: Any) -> dict[str, Any]:
        """A tool's structured result; fails the test on a tool error."""
        answer = self.request("tools/call", {"name": tool, "arguments": arguments})
        result = answer["result"]
        assert not result.get("isError"), result
        return dict(result["structuredContent"])

    def _read_message(self, timeout: float) -> dict[str, Any]:
        assert self.process.stdout is not None
        stdout = self.process.stdout
        with selectors.DefaultSelector() as selector:
            selector.register(stdout, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                if timeout <= 0 or not selector.select(timeout):
                    raise TimeoutError("no answer from the server")
                chunk = stdout.read1(65536)  # type: ignore[attr-defined]
                if not chunk:
                    raise EOFError("the server closed stdout")
                self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return dict(json.loads(line))

    def close(self, timeout: float = 20) -> int:
        """Close stdin (as Claude Desktop does when it quits) and wait for the exit code."""
        if self.process.poll() is None and self.process.stdin is not None:
            self.process.stdin.close()
        try:
            return self.process.wait(timeout)
        finally:
            self.kill()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
