"""Building blocks for shell and end-to-end tests: a temp world, a server, clients.

A *world* is a temporary HOME (the fake ``claude`` keeps its conversations in
``$HOME/.fake-claude``, and HOME is the default allowed root), a project folder
inside it, and an ``ORCH_HOME`` data dir. Servers run with the fake ``claude``
(``tests/fake_claude.py``), either in memory (FastMCP ``Client(server)``) or as a
real ``orch serve`` subprocess.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import psutil
from fastmcp import Client

from orch_core import (
    AGENTS_MESSAGE,
    AGENTS_WRITE,
    SESSIONS_READ,
    SESSIONS_WRITE,
    ClaudeSettings,
    Principal,
    Settings,
    local_policy,
)
from orch_shell._audit_log import AuditLog, open_audit_log
from orch_shell._credentials import Authenticate, stdio_credentials
from orch_shell._health import Health
from orch_shell._keys import create_key_pair, load_private_key, mint_token, write_private_text
from orch_shell._metrics import Metrics
from orch_shell._orchestrator import Orchestrator
from orch_shell._paths import OrchPaths, resolve_paths
from orch_shell._serve import policy_for
from orch_shell._server import build_server
from orch_shell._service import OrchService
from orch_shell._store import Store
from orch_shell._turns import LiveTurns
from orch_shell._verifier import JwtVerifier

TESTS = Path(__file__).resolve().parent
FAKE_CLAUDE = TESTS / "fake_claude.py"
ORCH_BIN = Path(sys.executable).parent / "orch"
USER_SCOPES = frozenset({SESSIONS_READ, SESSIONS_WRITE, AGENTS_WRITE, AGENTS_MESSAGE})
"""Every scope but admin: what an ordinary user's token holds."""
ALICE = Principal(subject="local:alice", scopes=USER_SCOPES)

#: The tools a client must see, exactly.
EXPECTED_TOOLS = {
    "create_session",
    "get_session_status",
    "list_sessions",
    "delete_session",
    "create_agent",
    "delete_agent",
    "send_message_to_agent",
    "clear_agent_conversation",
    "start_new_agent_conversation",
}


@attrs.frozen(kw_only=True)
class World:
    root: Path
    home: Path
    project: Path
    data: Path

    @property
    def fake_state(self) -> Path:
        return self.home / ".fake-claude"

    def claude_command(self) -> tuple[str, ...]:
        return (sys.executable, str(FAKE_CLAUDE))

    @property
    def token_file(self) -> Path:
        """ALICE's token, which ``server_env`` hands the server (``ORCH_TOKEN_FILE``)."""
        return self.data / "token"

    def server_env(self, **extra: str) -> dict[str, str]:
        """The environment of an ``orch serve`` subprocess in this world."""
        env = {
            "HOME": str(self.home),
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "ORCH_HOME": str(self.data),
            "ORCH_CLAUDE_COMMAND": " ".join(self.claude_command()),
            "ORCH_TOKEN_FILE": str(self.token_file),
            "FASTMCP_CHECK_FOR_UPDATES": "off",
            "LANG": "C.UTF-8",
        }
        env.update(extra)
        return env

    def token(self, principal: Principal = ALICE, *, ttl: float = 3600.0, **claims: Any) -> str:
        """A token for ``principal`` signed by this world's local key (what
        ``orch token issue`` would mint)."""
        paths = resolve_paths({"ORCH_HOME": str(self.data)})
        key = load_private_key(paths.signing_key).unwrap()
        return mint_token(
            key,
            issuer=claims.pop("issuer", "orch-local"),
            audience=claims.pop("audience", "orch"),
            subject=principal.subject,
            scopes=sorted(principal.scopes),
            ttl_seconds=ttl,
            now=claims.pop("now", time.time()),
            client_id=principal.client_id,
        )

    @property
    def paths(self) -> OrchPaths:
        return resolve_paths({"ORCH_HOME": str(self.data)})

    def audit_log(self, store: Store, settings: Settings | None = None) -> AuditLog:
        """The audit log a server in this world keeps in ``store``."""
        audit = (settings or Settings()).audit
        return open_audit_log(store, audit, self.paths, time.time)

    def verifier(self) -> JwtVerifier:
        """The verifier a server in this world uses (the local policy)."""
        paths = resolve_paths({"ORCH_HOME": str(self.data)})
        return JwtVerifier.from_policy(local_policy(str(paths.public_key))).unwrap()


def make_world(tmp_path: Path) -> World:
    """A temp HOME with a project, and a data dir with the local key pair and
    ALICE's token in it (as ``orch init`` would leave it)."""
    home = tmp_path / "home"
    project = home / "project"
    project.mkdir(parents=True)
    world = World(root=tmp_path, home=home, project=project, data=tmp_path / "data")
    paths = resolve_paths({"ORCH_HOME": str(world.data)})
    world.data.mkdir(mode=0o700)
    create_key_pair(paths.signing_key, paths.public_key).unwrap()
    write_private_text(world.token_file, world.token() + "\n")
    return world


def test_settings(world: World, **claude: Any) -> Settings:
    options: dict[str, Any] = {"command": world.claude_command(), "kill_grace_seconds": 2.0}
    options.update(claude)
    return Settings(claude=ClaudeSettings(**options))


test_settings.__test__ = False  # type: ignore[attr-defined]


@asynccontextmanager
async def in_memory(
    world: World,
    settings: Settings | None = None,
    principal: Principal = ALICE,
    environ: dict[str, str] | None = None,
    *,
    store: Store | None = None,
    health_clock: Callable[[], float] = time.time,
    audited: bool = True,
    authenticate: Authenticate | None = None,
    **client: Any,
) -> AsyncIterator[tuple[Client[Any], Orchestrator]]:
    """An orchestrator on a real store in ``world.data`` and a FastMCP client on it,
    with metrics on (``orchestrator.metrics``).

    ``environ`` is the server's environment (default: HOME and PATH only); agents get
    the allow-listed part of it. ``store`` replaces the data dir's (a read-only one,
    say); ``health_clock`` is the clock health checks read (a turn is stuck by it).
    The audit log is on (in the store, checkpoints beside it) unless ``audited`` is false.
    ``authenticate`` replaces ``principal``'s token (to switch callers mid-test).
    """
    settings = settings or test_settings(world)
    env = {"HOME": str(world.home), "PATH": os.environ.get("PATH", "")}
    env.update(environ or {})
    world.data.mkdir(parents=True, exist_ok=True)
    store = store or Store.open(world.data / "orch.db")
    live = LiveTurns(claude=settings.claude, environ=env, clock=time.time)
    orchestrator = Orchestrator(
        store=store,
        settings=settings,
        policy=policy_for(settings, env),
        live=live,
        clock=time.time,
        metrics=Metrics(version="test"),
        audit=world.audit_log(store, settings) if audited else None,
    )
    health = Health(orchestrator, environ=env, version="test", clock=health_clock)
    server = build_server(
        OrchService(orchestrator),
        authenticate or authenticate_as(world, principal),
        health=health,
    )
    try:
        async with Client(server, **client) as session:
            yield session, orchestrator
    finally:
        await orchestrator.shutdown()


def authenticate_as(world: World, principal: Principal) -> Authenticate:
    """Stdio-style credentials: a token for ``principal``, verified on every call."""
    return stdio_credentials(world.verifier(), {"ORCH_TOKEN": world.token(principal)}).unwrap()


async def new_agent(
    client: Client[Any], world: World, *, session: str = "s", agent: str = "a"
) -> tuple[str, str]:
    """Create session ``session`` on the world's project with agent ``agent``: their ids."""
    created = structured(
        await client.call_tool("create_session", {"name": session, "root_path": str(world.project)})
    )
    session_id = str(created["session_id"])
    made = await client.call_tool("create_agent", {"session_id": session_id, "name": agent})
    return session_id, str(structured(made)["agent_id"])


async def send(client: Client[Any], agent_id: str, message: str, wait: float) -> dict[str, Any]:
    """``send_message_to_agent``'s JSON (the call must not be a tool error)."""
    arguments = {"agent_id": agent_id, "message": message, "wait_seconds": wait}
    return structured(await client.call_tool("send_message_to_agent", arguments))


def structured(result: Any) -> dict[str, Any]:
    """The JSON object a tool returned (structured content, else its text)."""
    if getattr(result, "structured_content", None) is not None:
        return dict(result.structured_content)
    return dict(json.loads(result.content[0].text))


def error_text(result: Any) -> str:
    assert result.is_error, f"expected a tool error, got {result}"
    return str(result.content[0].text)


def wait_gone(pids: list[int], timeout: float) -> list[int]:
    """Wait until none of ``pids`` is alive (zombies count as gone); the survivors."""
    deadline = time.monotonic() + timeout
    while True:
        left = [p for p in pids if alive(p)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def alive(pid: int) -> bool:
    """Running and not a zombie."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def read_pid(path: Path, timeout: float = 10.0) -> int:
    """Wait for a pid file written by the fake ``claude``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return int(path.read_text().strip())
        time.sleep(0.05)
    raise AssertionError(f"no pid file at {path}")
