"""orch's own stdio transport, in front of FastMCP's MCP session.

Why not ``mcp.server.stdio.stdio_server``: it reads stdin in a worker thread that
cannot be cancelled (so SIGTERM could not stop the server while stdin stays
open), reads lines of any size, and answers nothing to a line that is not JSON.
This transport:

* reads fd 0 in a daemon thread feeding a small bounded queue (back-pressure, and
  cancellable on the asyncio side);
* caps a line at ``max_line_bytes``: a longer one is discarded as it streams in
  and answered with a JSON-RPC error, and the connection keeps working;
* answers what is wrong with a line as JSON-RPC 2.0 requires before the MCP
  session sees it (:func:`judge`): ``-32700`` for a line that is not strict
  JSON (invalid UTF-8, ``NaN``), ``-32600`` for a non-message, and for a request
  whose id is not a string or an integer (the SDK would take it for a
  notification and drop it unanswered), ``-32602`` for positional params. A
  notification is never answered. A batch gets an array with a ``-32600`` per
  request in it and runs nothing: MCP removed JSON-RPC batching (2025-06-18);
* keeps the connection when an answer cannot be encoded as is (:func:`encode`);
* moves the protocol to a private duplicate of fd 1 and points fd 1 at stderr,
  so a stray ``print`` can never corrupt the protocol stream.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import threading
from collections.abc import Callable
from typing import Any

import anyio
import mcp_types as types
import structlog
from fastmcp import FastMCP
from fastmcp.server.context import reset_transport, set_transport
from mcp.shared._context_streams import create_context_streams
from mcp.shared.message import SessionMessage

from ._jsonrpc_envelope import (
    IGNORE,
    NOT_RPC,
    RequestId,
    batch_answers,
    encode,
    error_answer,
    judge,
    strict_json,
    usable_id,
)

CHUNK = 64 * 1024

#: After stdin closes, answers to requests already read get this long to go out.
DRAIN_SECONDS = 2.0

log = structlog.get_logger("orch.stdio")


async def serve_stdio_transport(
    server: FastMCP, *, max_line_bytes: int, on_eof: Callable[[], None] | None = None
) -> None:
    """Serve ``server`` on this process's stdin/stdout until EOF or cancellation.

    ``on_eof`` is called as soon as stdin closes, before the answers still owed
    get their last :data:`DRAIN_SECONDS` and the requests still running are
    cancelled.
    """
    token = set_transport("stdio")
    try:
        # FastMCP has no public runner for custom streams: its lifespan and session
        # runner are used directly (pinned fastmcp==4.1.2).
        async with server._lifespan_manager():  # noqa: SLF001
            await _StdioConnection(max_line_bytes, on_eof).serve(server)
    finally:
        reset_transport(token)


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


def _end_of_connection(raised: BaseExceptionGroup[BaseException]) -> None:
    """Re-raise what matters in ``raised``, the errors of a connection's tasks.

    While the connection stops (a signal, or the session ending), a message may be
    on its way into a stream whose reader has just gone, in orch's reader or in
    the SDK's own relay: that ``BrokenResourceError`` (or ``ClosedResourceError``)
    is the stop itself, not a fault, and must not turn a clean shutdown into a
    crash. A cancellation is re-raised as one; anything else as it came.
    """
    _, rest = raised.split((anyio.BrokenResourceError, anyio.ClosedResourceError))
    if rest is None:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise asyncio.CancelledError from raised
        return
    cancelled, other = rest.split(asyncio.CancelledError)
    if other is not None:
        raise other
    raise asyncio.CancelledError from cancelled


class _StdioConnection:
    """One MCP connection over fds 0 and 1."""

    def __init__(self, max_line_bytes: int, on_eof: Callable[[], None] | None) -> None:
        self._max_line_bytes = max_line_bytes
        self._on_eof = on_eof
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
        except BaseExceptionGroup as raised:
            _end_of_connection(raised)
        finally:
            with contextlib.suppress(OSError):
                os.close(self._out)

    async def _write(self, message: SessionMessage) -> None:
        await self._write_line(encode(message.message))
        if isinstance(message.message, types.JSONRPCResponse | types.JSONRPCError):
            if message.message.id is not None:
                self._unanswered.discard(message.message.id)
            self._answered.set()

    async def _write_line(self, text: str) -> None:
        async with self._writing:  # one message at a time: pipe writes over 4 KiB aren't atomic
            await anyio.to_thread.run_sync(_write_all, self._out, (text + "\n").encode())

    async def _answer(self, error: types.JSONRPCError) -> None:
        await self._write(SessionMessage(error))

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
            if self._on_eof is not None:
                self._on_eof()
            await self._drain()

    async def _parse(self, line: bytes | None) -> SessionMessage | None:
        """The message on ``line``, or ``None`` after answering (or ignoring) what
        is wrong with it."""
        if line is None:
            too_large = f"message too large: over {self._max_line_bytes} bytes"
            await self._answer(error_answer(None, types.INVALID_REQUEST, too_large))
            return None
        try:
            value = strict_json(line)
        except ValueError:
            await self._answer(error_answer(None, types.PARSE_ERROR, "parse error: not JSON"))
            return None
        if isinstance(value, list):
            await self._refuse_batch(value)
            return None
        refusal = judge(value)
        if refusal is None:
            try:
                message = types.jsonrpc_message_adapter.validate_json(line, by_name=False)
            except ValueError:  # a sound envelope the SDK still refuses: a lone surrogate
                notifies = isinstance(value, dict) and "method" in value and "id" not in value
                invalid = error_answer(usable_id(value), types.INVALID_REQUEST, NOT_RPC)
                refusal = IGNORE if notifies else invalid
            else:
                if isinstance(message, types.JSONRPCRequest):
                    self._unanswered.add(message.id)
                return SessionMessage(message)
        if refusal == IGNORE:
            method = value.get("method") if isinstance(value, dict) else None
            log.warning("ignored a malformed notification", method=str(method)[:64])
        else:
            await self._answer(refusal)
        return None

    async def _refuse_batch(self, batch: list[object]) -> None:
        if not batch:
            await self._answer(
                error_answer(None, types.INVALID_REQUEST, "invalid request: empty batch")
            )
            return
        answers = batch_answers(batch)
        if answers:  # JSON-RPC: a batch of notifications gets nothing, not ``[]``
            await self._write_line(f"[{','.join(map(encode, answers))}]")
        log.warning("refused a JSON-RPC batch", members=len(batch))

    async def _drain(self) -> None:
        with anyio.move_on_after(DRAIN_SECONDS):
            while self._unanswered:
                self._answered.clear()
                await self._answered.wait()
