"""A child process's pipes: written, read in bounded memory, and closed for certain.

Whatever the child prints, memory stays bounded: stdout is read in chunks and
split into lines here, with a cap on a line's length and on the bytes read in
all, and of stderr only a tail is kept.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Literal

_CHUNK = 64 * 1024

#: How reading stdout ended: at its end, or stopped by a cap (see :func:`read_lines`).
ReadEnd = Literal["eof", "long_line", "too_much"]


async def write_all(stdin: asyncio.StreamWriter | None, data: bytes) -> None:
    """Write ``data`` and close the pipe, even if the child stops reading early."""
    assert stdin is not None  # noqa: S101 -- PIPE was requested
    try:
        stdin.write(data)
        await stdin.drain()
    except (BrokenPipeError, ConnectionResetError):
        pass  # it exited without reading everything; its exit says why
    finally:
        stdin.close()  # an open stdin makes `claude -p` wait forever


async def read_lines(
    stream: asyncio.StreamReader, take: Callable[[bytes], None], *, max_line: int, max_total: int
) -> ReadEnd:
    """Hand each line (without its newline) to ``take``, the unterminated last one too.

    Stop reading as soon as a line is longer than ``max_line`` bytes
    (``"long_line"``) or more than ``max_total`` bytes came in all (``"too_much"``);
    the lines before have been handed over. A flood of short lines is bounded only
    by the second cap: each line would pass, but the turn would never end.
    """
    buffer = bytearray()
    scanned = 0  # bytes of buffer already known to hold no newline
    total = 0
    while chunk := await stream.read(_CHUNK):
        total += len(chunk)
        if total > max_total:
            return "too_much"
        buffer += chunk
        start = 0
        while (end := buffer.find(b"\n", max(start, scanned))) != -1:
            if end - start > max_line:
                break
            take(bytes(buffer[start:end]))
            start = end + 1
        del buffer[:start]
        scanned = len(buffer)
        if buffer.find(b"\n") > max_line or len(buffer) > max_line:
            return "long_line"
    if buffer:
        take(bytes(buffer))
    return "eof"


async def keep_tail(stream: asyncio.StreamReader, tail: bytearray, keep: int) -> None:
    """Read ``stream`` to its end, keeping only its last ``keep`` bytes in ``tail``."""
    while chunk := await stream.read(_CHUNK):
        tail += chunk
        del tail[: max(0, len(tail) - keep)]


def close_pipes(process: asyncio.subprocess.Process) -> None:
    """Close the pipes so their transport cannot outlive the process's turn.

    A reader that stopped early (a line overflow) or a pipe still held by a
    descendant outside the group would otherwise keep the transport and its file
    descriptors open; asyncio offers no public handle for this, hence ``_transport``.
    """
    transport = getattr(process, "_transport", None)
    if isinstance(transport, asyncio.SubprocessTransport):
        transport.close()
