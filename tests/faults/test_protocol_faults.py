"""Malformed JSON-RPC on stdio, against a real ``orch serve``.

Each message is written raw, followed by a normal ``tools/call``; everything the
server writes until that call's answer is compared with what JSON-RPC 2.0 asks:
``-32700`` (id null) for what is not JSON, ``-32600`` for what is not a request
(the id echoed when it is a string or an integer), ``-32601`` for an unknown
method, ``-32602`` for bad params, and nothing at all for a notification or a
response. The call after it must succeed, from the same process.

Cases the SDK alone got wrong, which :mod:`orch_shell._stdio` now answers itself:
a request whose id is an object, a bool, null, a fraction or ``1e400`` (taken
for a notification: no answer, the client waits for ever), an id that is a lone
surrogate (its error could not be encoded: the server exited), ``NaN`` (not
JSON, yet accepted), positional params (``-32600`` instead of ``-32602``), a
notification with positional params (answered), and a batch (one ``-32600``
with id null, so its requests were never answered).
"""

from __future__ import annotations

import json
import selectors
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import audit_kit
from tests.faults.kit import Server, fault_world, started, store_is_intact

pytestmark = pytest.mark.timeout(60)

PARSE, INVALID, NO_METHOD, PARAMS = -32700, -32600, -32601, -32602
RESULT = "result"
"""In an expected answer, the code slot of a success."""

Answer = tuple[Any, Any]
"""An answer as ``(code, id)`` (``RESULT`` for a success), or ``("batch", answers)``."""


def batch(*answers: Answer) -> Answer:
    return ("batch", tuple(sorted(answers, key=repr)))


def rpc(**message: Any) -> bytes:
    return json.dumps({"jsonrpc": "2.0", **message}).encode()


def call(ident: Any, tool: Any, arguments: Any) -> dict[str, Any]:
    """A ``tools/call`` request (without its ``jsonrpc`` member)."""
    return {"id": ident, "method": "tools/call", "params": {"name": tool, "arguments": arguments}}


CASES: dict[str, tuple[bytes, list[Answer]]] = {
    # Not JSON.
    "invalid UTF-8": (b"\xff\xfe\x00garbage \xc3\x28", [(PARSE, None)]),
    "half an object": (b'{"jsonrpc": "2.0", "id": 5, "method": "tools/li', [(PARSE, None)]),
    "two objects on a line": (rpc(**call(6, "list_sessions", {})) + b' {"x": 1}', [(PARSE, None)]),
    "NaN as id": (b'{"jsonrpc": "2.0", "id": NaN, "method": "tools/list"}', [(PARSE, None)]),
    "a UTF-8 byte order mark": (b"\xef\xbb\xbf" + rpc(id=7, method="tools/list"), [(PARSE, None)]),
    # JSON, but not a message.
    "an empty batch": (b"[]", [(INVALID, None)]),
    "null": (b"null", [(INVALID, None)]),
    "an integer": (b"42", [(INVALID, None)]),
    "a fraction": (b"3.5", [(INVALID, None)]),
    "a string": (b'"tools/list"', [(INVALID, None)]),
    "true": (b"true", [(INVALID, None)]),
    "an empty object": (b"{}", [(INVALID, None)]),
    "an id and nothing else": (rpc(id=31), [(INVALID, 31)]),
    # Wrong types in the envelope.
    'jsonrpc "1.0"': (
        json.dumps({"jsonrpc": "1.0", "id": 10, "method": "tools/list"}).encode(),
        [(INVALID, 10)],
    ),
    "no jsonrpc member": (b'{"id": 35, "method": "tools/list"}', [(INVALID, 35)]),
    "id an object": (rpc(id={"a": 1}, method="tools/list"), [(INVALID, None)]),
    "id a bool": (rpc(id=True, method="tools/list"), [(INVALID, None)]),
    "id null": (rpc(id=None, method="tools/list"), [(INVALID, None)]),
    "id a fraction": (rpc(id=1.5, method="tools/list"), [(INVALID, None)]),
    "id 1e400": (b'{"jsonrpc": "2.0", "id": 1e400, "method": "tools/list"}', [(INVALID, None)]),
    "id a lone surrogate": (
        b'{"jsonrpc": "2.0", "id": "\\ud800", "method": "tools/list"}',
        [(INVALID, None)],
    ),
    "method a number": (rpc(id=11, method=7), [(INVALID, 11)]),
    "method a number, no id": (rpc(method=7), [(INVALID, None)]),
    "params a string": (rpc(id=13, method="tools/call", params="x"), [(INVALID, 13)]),
    "params a string, no id": (rpc(method="tools/call", params="x"), [(INVALID, None)]),
    # A sound envelope around bad params.
    "params an array": (rpc(id=12, method="tools/call", params=[1, 2]), [(PARAMS, 12)]),
    "tools/list params an array": (rpc(id=23, method="tools/list", params=[]), [(PARAMS, 23)]),
    "tools/call name a number": (rpc(**call(14, 5, {})), [(PARAMS, 14)]),
    "tools/call arguments a string": (rpc(**call(15, "list_sessions", "x")), [(PARAMS, 15)]),
    "tools/call without a name": (
        rpc(id=16, method="tools/call", params={"arguments": {}}),
        [(PARAMS, 16)],
    ),
    "tools/call without params": (rpc(id=34, method="tools/call"), [(PARAMS, 34)]),
    "a lone surrogate in a tool name": (
        b'{"jsonrpc": "2.0", "id": 51, "method": "tools/call", '
        b'"params": {"name": "list_sessions\\ud800", "arguments": {}}}',
        [(INVALID, 51)],
    ),
    # Sound requests.
    "a huge integer id": (rpc(id=2**100, method="tools/list"), [(RESULT, 2**100)]),
    "an unknown method": (rpc(id=17, method="no/such"), [(NO_METHOD, 17)]),
    "an unknown method, string id": (
        rpc(id="s18", method="no/such", params={}),
        [(NO_METHOD, "s18")],
    ),
    # Never answered.
    "an unknown notification": (rpc(method="notifications/no_such"), []),
    "a notification with positional params": (
        rpc(method="notifications/initialized", params=[]),
        [],
    ),
    "a response out of the blue": (rpc(id=21, result={}), []),
    "an error response out of the blue": (rpc(id=22, error={"code": 1, "message": "x"}), []),
    # Batches: MCP has none, so each request in one is refused (and none runs).
    "a batch": (
        json.dumps(
            [
                {"jsonrpc": "2.0", "id": 19, "method": "tools/list"},
                {"jsonrpc": "2.0", "method": "notifications/initialized"},
                {"jsonrpc": "2.0", **call("b20", "list_sessions", {})},
                5,
                {"jsonrpc": "2.0", "id": 99, "result": {}},
                {"jsonrpc": "2.0", "id": True, "method": "tools/list"},
            ]
        ).encode(),
        [batch((INVALID, 19), (INVALID, "b20"), (INVALID, None), (INVALID, None))],
    ),
    "a batch of notifications": (
        json.dumps([{"jsonrpc": "2.0", "method": "notifications/initialized"}]).encode(),
        [],
    ),
}


def normalized(value: Any) -> Answer:
    """What an answer says: its code (or ``RESULT``) and id."""
    if isinstance(value, list):
        return batch(*map(normalized, value))
    return (value["error"]["code"] if "error" in value else RESULT, value.get("id"))


def read_value(server: Server, timeout: float) -> Any:
    """The next line the server writes, as JSON (an array too, unlike ``_read_message``)."""
    stdout = server.process.stdout
    assert stdout is not None
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(stdout, selectors.EVENT_READ)
        while b"\n" not in server._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not selector.select(left):
                raise TimeoutError("no answer from the server")
            chunk = stdout.read1(65536)  # type: ignore[attr-defined]
            if not chunk:
                raise EOFError(f"the server closed stdout; its log:\n{server.log[-3000:]}")
            server._buffer += chunk
    line, server._buffer = server._buffer.split(b"\n", 1)
    return json.loads(line)


def write(server: Server, data: bytes) -> None:
    assert server.process.stdin is not None
    server.process.stdin.write(data)
    server.process.stdin.flush()


class Exchange:
    """Writes raw lines, each followed by a ``list_sessions`` call, and collects answers."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.pid = server.pid
        self._checks = 0

    def send(self, line: bytes, expected: list[Answer]) -> tuple[list[Answer], Any]:
        """Write ``line`` and a normal call; what else the server answered until the
        call's answer and the ``expected`` ids are in, and the call's structured result."""
        self._checks += 1
        check = f"check-{self._checks}"
        write(self.server, line + b"\n" + rpc(**call(check, "list_sessions", {})) + b"\n")
        # Errors orch's transport answers are written before the next line is read;
        # the session's answers may come after the check's, so wait for their ids too.
        waiting = {i for code, i in expected if code != "batch" and i is not None}
        answers: list[Answer] = []
        result = None
        while result is None or waiting:
            value = read_value(self.server, 20)
            if isinstance(value, dict) and value.get("id") == check:
                result = value.get("result")
                assert result is not None and not result.get("isError"), value
                continue
            answers.append(normalized(value))
            waiting.discard(answers[-1][1])
        assert self.server.process.poll() is None, "the server died"
        assert self.server.pid == self.pid
        return answers, result["structuredContent"]


@pytest.fixture(scope="module")
def exchange(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exchange]:
    """One server for every case: each must leave it serving for the next."""
    server = started(fault_world(tmp_path_factory.mktemp("protocol")))
    try:
        yield Exchange(server)
        assert server.close() == 0
    finally:
        server.kill()


@pytest.mark.parametrize("case", CASES)
def test_a_malformed_message_gets_its_json_rpc_answer_and_the_server_keeps_serving(
    exchange: Exchange, case: str
) -> None:
    line, expected = CASES[case]
    answers, listed = exchange.send(line, expected)
    assert sorted(answers, key=repr) == sorted(expected, key=repr)
    assert listed == {"sessions": []}


def test_a_tool_call_without_a_usable_id_does_not_run(tmp_path: Path) -> None:
    """A ``tools/call`` notification, one with a bad id, and one in a batch: none
    creates a session, and no call reaches the audit log."""
    world = fault_world(tmp_path)
    server = started(world)
    root = str(world.project)
    try:
        exchange = Exchange(server)
        arguments = {"name": "ghost", "root_path": root}
        ghost = {
            "method": "tools/call",
            "params": {"name": "create_session", "arguments": arguments},
        }
        assert exchange.send(rpc(**ghost), []) == ([], {"sessions": []})
        for n, ident in enumerate([True, {"x": 1}, None, 2.5]):
            bad = call(ident, "create_session", {"name": f"bad{n}", "root_path": root})
            assert exchange.send(rpc(**bad), [(INVALID, None)]) == (
                [(INVALID, None)],
                {"sessions": []},
            )
        batched = json.dumps(
            [
                {"jsonrpc": "2.0", **call(40, "create_session", {"name": "b1", "root_path": root})},
                {"jsonrpc": "2.0", **ghost},
            ]
        ).encode()
        expected = [batch((INVALID, 40))]
        assert exchange.send(batched, expected) == (expected, {"sessions": []})
        assert server.close() == 0
    finally:
        server.kill()
    assert [d["tool"] for d in audit_kit.decisions(world)] == ["list_sessions"] * 6
    with sqlite3.connect(world.data / "orch.db") as db:
        assert db.execute("SELECT count(*) FROM sessions").fetchone() == (0,)
    store_is_intact(world)


def test_garbage_between_pipelined_requests_leaves_each_request_one_answer(
    tmp_path: Path,
) -> None:
    """Every malformed case, each followed by a real ``create_session``, written in
    one go before any answer is read: each real request is answered once and
    runs once, each case gets its own answers, and nothing else comes."""
    world = fault_world(tmp_path)
    server = started(world)
    real = {f"real-{n}": f"s{n}" for n in range(len(CASES))}
    lines = []
    expected: Counter[Answer] = Counter()
    for (line, answers), (ident, name) in zip(CASES.values(), real.items(), strict=True):
        arguments = {"name": name, "root_path": str(world.project)}
        lines += [line, rpc(**call(ident, "create_session", arguments))]
        expected.update(answers)
    try:
        # From a thread: the answers fill the pipe while the requests are still going in.
        writer = threading.Thread(target=write, args=(server, b"\n".join(lines) + b"\n"))
        writer.start()
        created: Counter[str] = Counter()
        others: Counter[Answer] = Counter()
        while created.total() < len(real) or others.total() < expected.total():
            value = read_value(server, 30)
            if isinstance(value, dict) and value.get("id") in real:
                assert not value["result"].get("isError"), value
                created[value["id"]] += 1
            else:
                others[normalized(value)] += 1
        writer.join(10)
        late, listed = Exchange(server).send(b"", [])
        assert server.close() == 0
    finally:
        server.kill()
    assert created == Counter(real.keys())
    assert others == expected
    assert late == []
    assert sorted(s["name"] for s in listed["sessions"]) == sorted(real.values())
    store_is_intact(world)
