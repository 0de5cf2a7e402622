"""The two MCP Inspector command lines behind one interface (``inspector_walk.py``
holds what the tests do with them).

Each run of either inspector starts its own ``orch serve`` over stdio (with a
token file holding every scope, as ``orch init`` writes), makes one request,
prints the JSON result and stops the server by closing its stdin. State lives in
``ORCH_HOME``, so what one run creates the next one sees. Neither CLI's exit code
alone says whether a tool failed (1.x exits 0 on a tool error, v2 exits 5), so
the helpers read ``isError`` and the content of every answer.

* ``@modelcontextprotocol/inspector-cli`` 1.x: ``mcp-inspector-cli --cli CMD ...``;
  passes its whole environment on to the server; prints the bare result.
* ``@modelcontextprotocol/inspector`` v2: ``inspector --cli --format json CMD ...``
  (Node >= 22.19); gives the server only a default environment plus ``-e
  KEY=VALUE``; prints ``{"result": ...}``.
"""

from __future__ import annotations

import fcntl
import json
import subprocess
import time
from pathlib import Path
from typing import Any, Protocol

import attrs

from orch_core import ALL_SCOPES, Principal
from orch_shell._keys import write_private_text
from tests.harness import ORCH_BIN, World
from tests.npm_bins import node22_script, npm_bin

RUN_TIMEOUT_SECONDS = 90
LOCK_WAIT_SECONDS = 30


@attrs.frozen
class Answer:
    """One inspector run: its exit code and the MCP result it printed."""

    code: int
    result: dict[str, Any]

    @property
    def text(self) -> str:
        return str(self.result["content"][0]["text"])


class Inspector(Protocol):
    name: str
    tool_error_exit: int

    def run(self, world: World, *method: str) -> Answer: ...

    def call(self, world: World, tool: str, **args: Any) -> Answer: ...


def _run(argv: list[str], env: dict[str, str], cwd: str | None) -> tuple[int, str, str]:
    _wait_for_the_last_server(Path(env["ORCH_HOME"]))
    done = subprocess.run(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


def server_env(world: World) -> dict[str, str]:
    """The world's server environment with a token holding every scope, as the
    one ``orch init`` writes (the resources need ``metrics:read``)."""
    token_file = world.data / "local.token"
    if not token_file.exists():
        local = Principal(subject="local:you", scopes=ALL_SCOPES)
        write_private_text(token_file, world.token(local) + "\n")
    return world.server_env(ORCH_TOKEN_FILE=str(token_file))


def _wait_for_the_last_server(home: Path) -> None:
    """Wait until no ``orch serve`` holds the data folder's lock.

    The inspectors exit as soon as they have the answer, without waiting for the
    server they started to finish shutting down; the next run's server would
    then find the folder locked (one server per data folder) and exit 1.
    """
    lock = home / "orch.lock"
    if not lock.exists():
        return
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    with lock.open("rb") as file:
        while True:
            try:
                fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                assert time.monotonic() < deadline, f"{lock} is still held"
                time.sleep(0.05)
                continue
            fcntl.flock(file, fcntl.LOCK_UN)
            return


def _json(stdout: str, stderr: str) -> dict[str, Any]:
    try:
        return dict(json.loads(stdout))
    except json.JSONDecodeError as error:
        raise AssertionError(
            f"not JSON on stdout ({error}): {stdout[:2000]!r}\nstderr: {stderr[-3000:]}"
        ) from error


class InspectorV1:
    name = "inspector-cli 1.x"
    tool_error_exit = 0

    def run(self, world: World, *method: str) -> Answer:
        # Looked up here, not in a fixture, so a missing install is a failed test.
        inspector = npm_bin("mcp-inspector-cli")
        # inspector-cli (through 1.0.3) probes for its own package.json relative to
        # the working directory, not to its module, and dies with ERR_MODULE_NOT_FOUND
        # unless ``../package.json`` exists (modelcontextprotocol/inspector#1503):
        # running it from its own build/ directory makes the probe find it.
        cwd = str(inspector.resolve().parent)
        argv = [str(inspector), "--cli", str(ORCH_BIN), "serve", *method]
        code, stdout, stderr = _run(argv, server_env(world), cwd)
        assert code == 0, f"{self.name} failed ({code}): {stderr[-3000:]}"
        return Answer(code, _json(stdout, stderr))

    def call(self, world: World, tool: str, **args: Any) -> Answer:
        # 1.x JSON-parses each value it can ("30" becomes 30, "true" True), so
        # numbers and booleans go as their JSON text and strings as they are.
        pairs = [f"{key}={_v1_value(value)}" for key, value in args.items()]
        arguments = ["--tool-arg", *pairs] if pairs else []
        return self.run(world, "--method", "tools/call", "--tool-name", tool, *arguments)


def _v1_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


class InspectorV2:
    name = "inspector v2"
    tool_error_exit = 5

    def run(self, world: World, *method: str) -> Answer:
        prefix = node22_script("inspector")
        env = server_env(world)
        # The server gets only the SDK's default variables (HOME, PATH, ...) plus
        # these, so orch's own are passed explicitly.
        passed = [part for key, value in env.items() for part in ("-e", f"{key}={value}")]
        argv = [*prefix, "--cli", "--format", "json", *passed, str(ORCH_BIN), "serve", *method]
        code, stdout, stderr = _run(argv, env, str(world.home))
        assert code in (0, self.tool_error_exit), f"{self.name} failed ({code}): {stderr[-3000:]}"
        printed = _json(stdout, stderr)
        assert set(printed) == {"result"}, printed
        return Answer(code, dict(printed["result"]))

    def call(self, world: World, tool: str, **args: Any) -> Answer:
        arguments = json.dumps(args)
        return self.run(
            world, "--method", "tools/call", "--tool-name", tool, "--tool-args-json", arguments
        )
