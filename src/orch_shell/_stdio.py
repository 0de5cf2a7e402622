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
from collections.abc import AsyncIterator

import anyio
import mcp_types as types
from fastmcp import FastMCP
from fastmcp.server.context import reset_transport, set_transport
from mcp.shared._context_streams import create_context_streams
from mcp.shared.message import SessionMessage

CHUNK = 64 * 1024


async def serve_stdio_transport(server: FastMCP, *, max_line_bytes: int) -> None:
    """Serve ``server`` on this process's stdin/stdout until EOF or cancellation."""
    token = set_transport("stdio")
    try:
        async with server._lifespan_manager(), _stdio_streams(max_line_bytes) as (read, write):  # noqa: SLF001
            low_level = server._mcp_server  # noqa: SLF001 - FastMCP exposes no public runner for custom streams
            await low_level.run(read, write, low_level.create_initialization_options())
    finally:
        reset_transport(token)


def _error(ident: object, code: int, message: str) -> SessionMessage:
    error = types.JSONRPCError(
        jsonrpc="2.0", id=ident, error=types.ErrorData(code=code, message=message)  # type: ignore[arg-type]
    )
    return SessionMessage(error)  # type: ignore[arg-type]


def _request_id(line: bytes) -> object:
    """The id of a JSON object line, if it has a usable one (for error replies)."""
    try:
        value = json.loads(line)
    except ValueError:
        return None
    ident = value.get("id") if isinstance(value, dict) else None
    return ident if isinstance(ident, str | int) and not isinstance(ident, bool) else None


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


@contextlib.asynccontextmanager
async def _stdio_streams(max_line_bytes: int) -> AsyncIterator[tuple[object, object]]:
    protocol_in = os.dup(0)
    protocol_out = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)  # stray writes to stdout now land on stderr, not on the wire
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=8)
    threading.Thread(
        target=_reader_thread, args=(protocol_in, loop, queue), name="orch-stdin", daemon=True
    ).start()
    read_writer, read_stream = create_context_streams[SessionMessage | Exception](0)
    write_stream, write_reader = create_context_streams[SessionMessage](0)
    writing = asyncio.Lock()

    async def write(message: SessionMessage) -> None:
        data = message.message.model_dump_json(by_alias=True, exclude_unset=True) + "\n"
        async with writing:  # one message at a time: pipe writes over 4 KiB are not atomic
            await anyio.to_thread.run_sync(_write_all, protocol_out, data.encode())

    async def stdin_reader() -> None:
        lines = _Lines(max_line_bytes)
        async with read_writer:
            while chunk := await queue.get():
                for line in lines.feed(chunk):
                    if line is None:
                        await write(_error(None, types.INVALID_REQUEST, f"message too large: over {max_line_bytes} bytes"))
                        continue
                    try:
                        message = types.jsonrpc_message_adapter.validate_json(line, by_name=False)
                    except ValueError:
                        ident = _request_id(line)
                        try:
                            json.loads(line)
                        except ValueError:
                            await write(_error(None, types.PARSE_ERROR, "parse error: not JSON"))
                        else:
                            await write(_error(ident, types.INVALID_REQUEST, "invalid request: not a JSON-RPC 2.0 message"))
                        continue
                    await read_writer.send(SessionMessage(message))

    async def stdout_writer() -> None:
        async with write_reader:
            async for message in write_reader:
                await write(message)

    try:
        async with anyio.create_task_group() as group:
            group.start_soon(stdin_reader)
            group.start_soon(stdout_writer)
            yield read_stream, write_stream
            group.cancel_scope.cancel()
    finally:
        with contextlib.suppress(OSError):
            os.close(protocol_out)
