"""orch's own stdio transport, in front of FastMCP's MCP session.

Why not ``mcp.server.stdio.stdio_server``: it reads stdin in a worker thread that
cannot be cancelled (so SIGTERM could not stop the server while stdin stays
open), reads lines of any size, and answers nothing to a line that is not JSON.
This transport:

* reads fd 0 in a daemon thread feeding a small bounded queue (back-pressure, and
  cancellable on the asyncio side);
* caps a line at ``max_line_bytes``: a longer one is discarded as it streams in
  and answered with a JSON-RPC error, and the connection keeps working;
* answers a line that is not JSON with ``-32700`` and a non-message with
  ``-32600``, as JSON-RPC requires;
* moves the protocol to a private duplicate of fd 1 and points fd 1 at stderr,
  so a stray ``print`` can never corrupt the protocol stream.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import os
import threading
from typing import Any

import anyio
import mcp_types as types
from fastmcp import FastMCP
from fastmcp.server.context import reset_transport, set_transport
from mcp.shared._context_streams import create_context_streams
from mcp.shared.message import SessionMessage

CHUNK = 64 * 1024

#: After stdin closes, answers to requests already read get this long to go out.
DRAIN_SECONDS = 2.0

RequestId = int | str


async def serve_stdio_transport(server: FastMCP, *, max_line_bytes: int) -> None:
    """Serve ``server`` on this process's stdin/stdout until EOF or cancellation."""
    token = set_transport("stdio")
    try:
        # FastMCP has no public runner for custom streams: its lifespan and session
        # runner are used directly (pinned fastmcp==4.1.2).
        async with server._lifespan_manager():  # noqa: SLF001
            await _StdioConnection(max_line_bytes).serve(server)
    finally:
        reset_transport(token)


def _error(ident: RequestId | None, code: int, message: str) -> SessionMessage:
    error = types.JSONRPCError(
        jsonrpc="2.0", id=ident, error=types.ErrorData(code=code, message=message)
    )
    return SessionMessage(error)


def _request_id(line: bytes) -> RequestId | None:
    """The id of a JSON object line, if it has a usable one (for error replies)."""
    try:
        value = json.loads(line)
    except ValueError:
        return None
    ident = value.get("id") if isinstance(value, dict) else None
    return ident if isinstance(ident, str | int) and not isinstance(ident, bool) else None


def _is_json(line: bytes) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return True


class _Lines:
    """Split a byte stream into lines, dropping (and reporting) over-long ones."""

    def __init__(self, max_line_bytes: int) -> None:
        self._max = max_line_bytes
        self._buffer = bytearray()
        self._discarding = False

    def feed(self, chunk: bytes) -> list[bytes | None]:
        """Complete lines in ``chunk``; ``None`` stands for a line that was too long."""
        out: list[bytes | None] = []
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            piece = chunk[start:] if end < 0 else chunk[start:end]
            if not self._discarding:
                if len(self._buffer) + len(piece) > self._max:
                    self._buffer.clear()
                    self._discarding = True
                    out.append(None)
                else:
                    self._buffer += piece
            if end < 0:
                return out
            if not self._discarding:
                line = bytes(self._buffer).strip()
                if line:
                    out.append(line)
            self._buffer.clear()
            self._discarding = False
            start = end + 1


def _reader_thread(fd: int, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[bytes]) -> None:
    while True:
        try:
            chunk = os.read(fd, CHUNK)
        except OSError:
            chunk = b""
        try:
            asyncio.run_coroutine_threadsafe(queue.put(chunk), loop).result()
        except (RuntimeError, concurrent.futures.CancelledError):
            return  # the loop is gone: the server is shutting down
        if not chunk:
            return


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class _StdioConnection:
    """One MCP connection over fds 0 and 1."""

    def __init__(self, max_line_bytes: int) -> None:
        self._max_line_bytes = max_line_bytes
        self._writing = asyncio.Lock()
        # Requests read but not yet answered: on EOF they get DRAIN_SECONDS to finish,
        # so a client that writes a request and closes its end still gets the answer.
        self._unanswered: set[RequestId] = set()
        self._answered = asyncio.Event()
        self._out = -1

    async def serve(self, server: FastMCP) -> None:
        protocol_in, self._out = os.dup(0), os.dup(1)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        os.dup2(2, 1)  # stray writes to stdout now land on stderr, not on the wire
        queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=8)
        loop = asyncio.get_running_loop()
        args = (protocol_in, loop, queue)
        threading.Thread(target=_reader_thread, args=args, name="orch-stdin", daemon=True).start()
        read_writer, read_stream = create_context_streams[SessionMessage | Exception](0)
        write_stream, write_reader = create_context_streams[SessionMessage](0)
        low_level: Any = server._mcp_server  # noqa: SLF001
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(self._read, queue, read_writer)
                group.start_soon(self._forward, write_reader)
                await low_level.run(
                    read_stream, write_stream, low_level.create_initialization_options()
                )
                group.cancel_scope.cancel()
        finally:
            with contextlib.suppress(OSError):
                os.close(self._out)

    async def _write(self, message: SessionMessage) -> None:
        data = message.message.model_dump_json(by_alias=True, exclude_unset=True) + "\n"
        async with self._writing:  # one message at a time: pipe writes over 4 KiB aren't atomic
            await anyio.to_thread.run_sync(_write_all, self._out, data.encode())
        if isinstance(message.message, types.JSONRPCResponse | types.JSONRPCError):
            if message.message.id is not None:
                self._unanswered.discard(message.message.id)
            self._answered.set()

    async def _forward(self, write_reader: Any) -> None:
        async with write_reader:
            async for message in write_reader:
                await self._write(message)

    async def _read(self, queue: asyncio.Queue[bytes], read_writer: Any) -> None:
        lines = _Lines(self._max_line_bytes)
        async with read_writer:
            while chunk := await queue.get():
                for line in lines.feed(chunk):
                    message = await self._parse(line)
                    if message is not None:
                        await read_writer.send(message)
            await self._drain()

    async def _parse(self, line: bytes | None) -> SessionMessage | None:
        """The message on ``line``, or ``None`` after answering what is wrong with it."""
        if line is None:
            too_large = f"message too large: over {self._max_line_bytes} bytes"
            await self._write(_error(None, types.INVALID_REQUEST, too_large))
            return None
        try:
            message = types.jsonrpc_message_adapter.validate_json(line, by_name=False)
        except ValueError:
            if _is_json(line):
                not_rpc = "invalid request: not a JSON-RPC 2.0 message"
                await self._write(_error(_request_id(line), types.INVALID_REQUEST, not_rpc))
            else:
                await self._write(_error(None, types.PARSE_ERROR, "parse error: not JSON"))
            return None
        if isinstance(message, types.JSONRPCRequest):
            self._unanswered.add(message.id)
        return SessionMessage(message)

    async def _drain(self) -> None:
        with anyio.move_on_after(DRAIN_SECONDS):
            while self._unanswered:
                self._answered.clear()
                await self._answered.wait()
