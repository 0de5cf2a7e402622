"""The stdio transport's line cap, against ``orch serve`` as a real subprocess.

An 8 MiB JSON-RPC line gets a JSON-RPC error and the next call still works; the
server never holds the line (its RSS stays bounded: the numbers are printed and
quoted in the README's Limits section); the cap is ``limits.max_stdio_line_bytes``.
"""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest

from tests.e2e.raw_client import RawServer
from tests.harness import make_world

MIB = 1024 * 1024
ROUNDS = 5
RSS_GROWTH_LIMIT = 32 * MIB
"""Five 8 MiB lines must not grow the server by more than this (one line held whole
would already be 8 MiB, five would be 40 MiB)."""


def huge_request(ident: int, size: int) -> bytes:
    """A well-formed request padded to ``size`` bytes, on one line."""
    head = b'{"jsonrpc": "2.0", "id": %d, "method": "tools/call", "pad": "' % ident
    return head + b"a" * (size - len(head) - 3) + b'"}\n'


@pytest.mark.timeout(120)
def test_an_8_mib_line_is_refused_the_next_call_works_and_memory_stays_bounded(
    tmp_path: Path,
) -> None:
    world = make_world(tmp_path)
    server = RawServer(world)
    try:
        server.initialize()
        assert server.call("list_sessions") == {"sessions": []}
        process = psutil.Process(server.pid)
        before = process.memory_info().rss
        peak = before
        assert server.process.stdin is not None
        for number in range(ROUNDS):
            server.process.stdin.write(huge_request(1000 + number, 8 * MIB))
            server.process.stdin.flush()
            refused = server._read_message(30)
            assert refused["error"]["code"] == -32600
            assert refused["error"]["message"] == f"message too large: over {4 * MIB} bytes"
            assert server.call("list_sessions") == {"sessions": []}
            peak = max(peak, process.memory_info().rss)
        growth = peak - before
        print(
            f"\nserver RSS: {before / MIB:.1f} MiB before, {peak / MIB:.1f} MiB peak after "
            f"{ROUNDS} x 8 MiB lines (growth {growth / MIB:.1f} MiB)"
        )
        assert growth < RSS_GROWTH_LIMIT
        assert server.close() == 0
    finally:
        server.kill()


@pytest.mark.timeout(60)
def test_the_cap_is_the_setting(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    (world.data / "orch.toml").write_text("[limits]\nmax_stdio_line_bytes = 65536\n")
    server = RawServer(world)
    try:
        server.initialize()
        assert server.process.stdin is not None
        server.process.stdin.write(huge_request(7, 70_000))
        server.process.stdin.flush()
        refused = server._read_message(10)
        assert refused["error"]["message"] == "message too large: over 65536 bytes"
        assert server.call("list_sessions") == {"sessions": []}
        assert server.close() == 0
    finally:
        server.kill()
