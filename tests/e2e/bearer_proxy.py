"""A loopback HTTP proxy that adds ``Authorization: Bearer`` and changes nothing else.

The MCP conformance suite's CLI cannot send headers, and ``orch serve --http``
refuses every request without a token. This proxy sits in front: for each
request on a client connection it reads the request head, inserts the bearer
header after the request line (unless the client sent one), and forwards the
head and its body byte for byte; responses are piped back untouched, so
server-sent event streams flow as they are written. Host and Origin are
forwarded as the client sent them, so the suite's DNS-rebinding scenario still
tests orch's guard (which compares host names, not ports).

Bodies are framed by ``Content-Length`` or ``Transfer-Encoding: chunked``, as
HTTP/1.1 requires, so keep-alive connections get a header on every request.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import attrs

MAX_HEAD_BYTES = 64 * 1024


@attrs.frozen(kw_only=True)
class Proxy:
    port: int
    seen: list[bytes]
    """Every request line that went through, in order (for assertions)."""

    @property
    def url(self) -> str:
        # `localhost`, as a user would type it; orch's guard accepts it for a
        # loopback server on any port.
        return f"http://localhost:{self.port}/mcp"


@contextmanager
def bearer_proxy(upstream_port: int, token: str) -> Iterator[Proxy]:
    """Run the proxy on a free loopback port in a thread, for the ``with`` block."""
    loop = asyncio.new_event_loop()
    seen: list[bytes] = []
    header = f"Authorization: Bearer {token}\r\n".encode()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", upstream_port)
        except OSError:
            writer.close()
            return
        requests = asyncio.ensure_future(_requests(reader, up_writer, header, seen))
        responses = asyncio.ensure_future(_pipe(up_reader, writer))
        # Either side ending ends the exchange: HTTP clients do not half-close.
        await asyncio.wait({requests, responses}, return_when=asyncio.FIRST_COMPLETED)
        for task in (requests, responses):
            task.cancel()
        for stream in (writer, up_writer):
            stream.close()
            with contextlib.suppress(OSError, asyncio.CancelledError):
                await stream.wait_closed()

    server = loop.run_until_complete(asyncio.start_server(handle, "127.0.0.1", 0))
    port = int(server.sockets[0].getsockname()[1])
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield Proxy(port=port, seen=seen)
    finally:

        async def stop() -> None:
            server.close()
            await server.wait_closed()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


async def _requests(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, header: bytes, seen: list[bytes]
) -> None:
    """Forward requests until the client closes, adding ``header`` to each."""
    with contextlib.suppress(asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            if len(head) > MAX_HEAD_BYTES:
                return
            line, _, rest = head.partition(b"\r\n")
            seen.append(line)
            fields = _fields(rest)
            extra = b"" if b"authorization" in fields else header
            writer.write(line + b"\r\n" + extra + rest)
            if b"chunked" in fields.get(b"transfer-encoding", b"").lower():
                await _chunked(reader, writer)
            else:
                length = int(fields.get(b"content-length", b"0") or b"0")
                writer.write(await reader.readexactly(length))
            await writer.drain()


def _fields(rest: bytes) -> dict[bytes, bytes]:
    fields: dict[bytes, bytes] = {}
    for raw in rest.split(b"\r\n"):
        name, colon, value = raw.partition(b":")
        if colon:
            fields[name.strip().lower()] = value.strip()
    return fields


async def _chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while True:
        size_line = await reader.readuntil(b"\r\n")
        writer.write(size_line)
        size = int(size_line.split(b";")[0].strip(), 16)
        if size == 0:
            break
        writer.write(await reader.readexactly(size + 2))
    while True:  # trailers, up to the empty line
        trailer = await reader.readuntil(b"\r\n")
        writer.write(trailer)
        if trailer == b"\r\n":
            return


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
