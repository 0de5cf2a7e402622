"""Fairness under a flood: principal B's latency while principal A floods the server.

Usage: ``python bench/bench_fairness.py [--seconds 30] [--flooders 4]
[--interval 0.15] [--results bench/results.json] [--smoke]``.

Starts ``orch serve --http`` on loopback (a data folder made by ``orch init``,
default limits) and mints two tokens with ``orch token issue``: A and B, each
with a session of its own. First B alone calls ``get_session_status`` every
``interval`` seconds for ``seconds / 2`` (the baseline). Then A floods
``get_session_status`` from ``flooders`` concurrent connections, each calling
as soon as it has its answer, for ``seconds`` (a bounded loop, in a process of
its own so its client work does not delay B's), while B goes on calling at the
same pace. Both speak JSON-RPC over plain keep-alive HTTP connections
(:class:`RawClient`), so the latency is the server's, not a client library's.
Printed and merged into the results file under ``fairness``: B's median, p99
and worst latency with and without the flood, B's errors (should be 0), and
A's calls, how many were admitted (at most ``read_burst + read_per_minute / 60
* seconds``) and refused ``RATE_LIMITED``.

``--smoke`` runs a tiny size (a test runs it so this file cannot rot) and writes
results only when ``--results`` is given.

Measured 2026-11-25 on a shared 2-core Linux VM (Python 3.11.7), defaults, five runs:
A made 347-437 calls a second, 399-400 admitted in 30 s, the rest ``RATE_LIMITED``;
B had no error; B's median 6.2-7.4 ms alone and 14.5-17.7 ms under the flood, p99
11.3-17.5 ms alone and 103.8-108.7 ms under the flood. Before orch's listening socket
was made with ``IPPROTO_TCP`` (so asyncio sets ``TCP_NODELAY``) every HTTP answer
took ~44 ms (Nagle against the client's delayed ACK).
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from _common import ORCH, RESULTS, header, make_home, publish, stats_ms

KEY = "fairness"
SCOPES = ("sessions:read", "sessions:write")
PROTOCOL = "2025-11-25"
INITIALIZE_PARAMS = {
    "protocolVersion": PROTOCOL,
    "capabilities": {},
    "clientInfo": {"name": "bench-fairness", "version": "0"},
}


def issue(env: dict[str, str], subject: str) -> str:
    scopes = [arg for scope in SCOPES for arg in ("--scope", scope)]
    issued = subprocess.run(
        [str(ORCH), "token", "issue", "--sub", subject, *scopes, "--ttl", "1d"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return issued.stdout.strip()


@contextmanager
def http_server(env: dict[str, str], log: Path) -> Iterator[int]:
    """``orch serve --http --port 0`` logging to ``log`` (a file: no reader thread in
    this process to compete with B); yields its port, stops it with SIGTERM."""
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [str(ORCH), "serve", "--http", "--port", "0"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
    try:
        deadline = time.monotonic() + 30
        while (port := _port(log)) is None:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the HTTP server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(30)


def _port(log: Path) -> int | None:
    for line in log.read_bytes().splitlines():
        if b'"serving on http"' in line:
            return int(json.loads(line)["port"])
    return None


class RawClient:
    """A minimal MCP client over one keep-alive HTTP connection: JSON-RPC posts with
    each request written in one piece. It measures the server, not a client stack
    (FastMCP's client spends ~15 ms a call on this machine, mostly its own)."""

    def __init__(self, port: int, token: str) -> None:
        self._connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self._headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
        }
        self._next_id = 0
        status, headers, _ = self._post(
            {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": INITIALIZE_PARAMS}
        )
        if status != 200:
            raise RuntimeError(f"initialize: HTTP {status}")
        if session := headers.get("mcp-session-id"):
            self._headers["mcp-session-id"] = session
        self._headers["mcp-protocol-version"] = PROTOCOL
        self._post({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def _post(self, message: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        self._connection.request("POST", "/mcp", json.dumps(message).encode(), self._headers)
        response = self._connection.getresponse()
        headers = {name.lower(): value for name, value in response.getheaders()}
        return response.status, headers, response.read()

    def call(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """The ``result`` of a ``tools/call`` (``isError`` set on a tool error)."""
        self._next_id += 1
        params = {"name": tool, "arguments": arguments}
        status, _, body = self._post(
            {"jsonrpc": "2.0", "id": self._next_id, "method": "tools/call", "params": params}
        )
        if status != 200:
            raise RuntimeError(f"{tool}: HTTP {status}")
        for line in body.splitlines():  # an SSE stream ("data: {...}") or plain JSON
            text = line.removeprefix(b"data: ")
            if text.startswith(b"{"):
                return dict(json.loads(text)["result"])
        raise RuntimeError(f"{tool}: no JSON-RPC answer in {body[:200]!r}")

    def close(self) -> None:
        self._connection.close()


def new_session(port: int, token: str, name: str, project: str) -> str:
    client = RawClient(port, token)
    try:
        created = client.call("create_session", {"name": name, "root_path": project})
        return str(created["structuredContent"]["session_id"])
    finally:
        client.close()


def flood(port: int, token: str, session_id: str, flooders: int, seconds: float) -> dict[str, Any]:
    """A's flood: ``flooders`` clients (threads) calling back to back for ``seconds``."""
    counts = {"calls": 0, "admitted": 0, "rate_limited": 0, "other_errors": 0}
    lock = threading.Lock()
    clients = [RawClient(port, token) for _ in range(flooders)]
    deadline = time.monotonic() + seconds

    def one(client: RawClient) -> None:
        while time.monotonic() < deadline:
            result = client.call("get_session_status", {"session_id": session_id})
            text = result["content"][0]["text"] if result.get("isError") else ""
            kind = "rate_limited" if text.startswith("RATE_LIMITED:") else "other_errors"
            with lock:
                counts["calls"] += 1
                counts[kind if result.get("isError") else "admitted"] += 1

    started = time.monotonic()
    threads = [threading.Thread(target=one, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = round(time.monotonic() - started, 3)
    for client in clients:
        client.close()
    return {**counts, "seconds": elapsed}


def flood_process(args: tuple[int, str, str, int, float], out: Any) -> None:
    out.put(flood(*args))


def steady(
    port: int, token: str, session_id: str, seconds: float, interval: float
) -> dict[str, Any]:
    """B: one call every ``interval`` seconds for ``seconds``; latencies and errors
    (by code: B keeps under its own limit, so it should see none)."""
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    client = RawClient(port, token)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        result = client.call("get_session_status", {"session_id": session_id})
        latencies.append(time.perf_counter() - started)
        if result.get("isError"):
            errors[result["content"][0]["text"].partition(":")[0]] += 1
        time.sleep(interval)
    client.close()
    return {
        "calls": len(latencies),
        "errors": sum(errors.values()),
        "error_codes": dict(errors),
        **stats_ms(latencies),
    }


def run(seconds: float, flooders: int, interval: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="orch-bench-") as root:
        env = make_home(Path(root), {})
        project = str(Path(root) / "home" / "project")
        tokens = {who: issue(env, f"bench:{who}") for who in ("a", "b")}
        with http_server(env, Path(root) / "server.log") as port:
            sessions = {
                who: new_session(port, token, who, project) for who, token in tokens.items()
            }
            baseline = steady(port, tokens["b"], sessions["b"], seconds / 2, interval)
            context = multiprocessing.get_context("spawn")
            out: Any = context.Queue()
            args = (port, tokens["a"], sessions["a"], flooders, seconds)
            flooder = context.Process(target=flood_process, args=(args, out))
            flooder.start()
            under_flood = steady(port, tokens["b"], sessions["b"], seconds, interval)
            flooded = out.get(True, seconds + 60)
            flooder.join(30)
    return {
        **header("bench_fairness.py"),
        "limits": "defaults: read 600/min, burst 100",
        "flooders": flooders,
        "interval_s": interval,
        "b_alone": baseline,
        "b_under_flood": under_flood,
        "a_flood": flooded,
    }


def print_summary(summary: dict[str, Any]) -> None:
    print(f"{'B':<14}{'calls':>7}{'errors':>8}{'median ms':>11}{'p99 ms':>9}{'max ms':>9}")
    for name in ("b_alone", "b_under_flood"):
        side = summary[name]
        print(
            f"{name.removeprefix('b_'):<14}{side['calls']:>7}{side['errors']:>8}"
            f"{side['median_ms']:>11.2f}{side['p99_ms']:>9.2f}{side['max_ms']:>9.2f}"
        )
    a = summary["a_flood"]
    print(
        f"A flood: {a['calls']} calls in {a['seconds']} s ({a['calls'] / a['seconds']:.0f}/s): "
        f"{a['admitted']} admitted, {a['rate_limited']} RATE_LIMITED, "
        f"{a['other_errors']} other errors"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the flood")
    parser.add_argument("--flooders", type=int, default=4, help="A's concurrent clients")
    parser.add_argument(
        "--interval",
        type=float,
        default=0.15,
        help="B's pause between calls (B keeps under its own 10 reads a second)",
    )
    parser.add_argument("--results", type=Path, default=None, help=f"default {RESULTS}")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, to check it runs")
    arguments = parser.parse_args(argv)
    seconds, flooders = arguments.seconds, arguments.flooders
    if arguments.smoke:
        seconds, flooders = 2.0, 2
    summary = run(seconds, flooders, arguments.interval)
    print_summary(summary)
    publish(arguments.results, arguments.smoke, KEY, summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
