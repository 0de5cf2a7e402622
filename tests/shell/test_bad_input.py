"""The bad-input table: every tool, every way a caller can get it wrong.

Each row is one call through a real FastMCP in-memory client against a server on
a real SQLite store: wrong types, unknown ids, paths that escape the allowed
root (``..``, symlinks, a sibling sharing the root's prefix), duplicate names,
oversized or NUL-bearing texts, exceeded limits, busy agents and sessions. A row
names the error code and a word the message must contain (the field or the
problem). For every row the call must also leave no trace: the orchestrator's
state and a fresh load of the database file are equal before and after, and the
error text is ``CODE: message`` with no traceback, SQL or server path in it.

The world: HOME with a ``project`` folder, one session ``webapp`` holding two
agents, ``writer`` (idle) and ``critic`` (running a ``#hang`` turn, in the rows
that need one), copied from a database seeded once per module. A second client
on the same orchestrator acts as another user, ``bob``. The whole file runs in
about 15 s.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import pytest
from fastmcp import Client
from mcp.shared.exceptions import MCPError

from orch_core import AgentId, Limits, Principal, Settings
from orch_shell import _server
from orch_shell._orchestrator import Orchestrator
from orch_shell._server import build_server
from orch_shell._service import OrchService
from orch_shell._store import Store
from tests.harness import (
    USER_SCOPES,
    World,
    authenticate_as,
    error_text,
    in_memory,
    make_world,
    structured,
    test_settings,
)

BOB = Principal(subject="local:bob", scopes=USER_SCOPES)
MAX_MESSAGE = Limits().max_message_bytes
MAX_ROLE = Limits().max_role_bytes
MAX_DESCRIPTION = Limits().max_description_bytes
SMALL = Limits(max_sessions_per_principal=2, max_agents_per_session=2)
SERVER_SOURCE = str(Path(_server.__file__).resolve().parent.parent)
CODE_PREFIX = re.compile(r"^([A-Z_]+): \S")
LEAKS = (
    "Traceback",
    'File "',
    "sqlite",
    "SELECT ",
    "INSERT ",
    "constraint",
    ".venv",
    SERVER_SOURCE,
)

# Multi-byte texts one byte over their limit: far fewer characters than bytes, so
# a check that counts characters instead of bytes lets them through.
OVER_MESSAGE = "é" * (MAX_MESSAGE // 2) + "m"  # 51,201 characters, 102,401 bytes
OVER_ROLE = "€" * (MAX_ROLE // 3 + 1)  # 2,731 characters, 8,193 bytes
OVER_DESC = "😀" * (MAX_DESCRIPTION // 4) + "d"  # 4,096 + 1 bytes


@attrs.frozen(kw_only=True)
class Arena:
    """The world a row runs in, and the ids and paths a row's arguments use."""

    world: World
    alice: Client[Any]
    bob: Client[Any]
    orchestrator: Orchestrator
    session_id: str
    writer: str
    critic: str
    conversation_id: str
    busy_turn: str | None

    @property
    def database(self) -> Path:
        return self.world.data / "orch.db"

    @property
    def home(self) -> str:
        return str(self.world.home)


def _paths(world: World) -> None:
    """Folders, files and symlinks the ``root_path`` rows point at."""
    (world.root / "outside").mkdir()
    (world.root / "home-evil").mkdir()  # shares the allowed root's prefix
    (world.project / "notes.txt").write_text("not a folder\n")
    (world.home / "etc-link").symlink_to("/etc")
    (world.home / "out-link").symlink_to(world.root / "outside")
    (world.project / "deep-out").symlink_to("../../outside")
    (world.home / "loop").symlink_to(world.home / "loop")


@attrs.frozen(kw_only=True)
class Seed:
    """A database holding session ``webapp`` with agents ``writer`` and ``critic``.

    Built once per module and copied into each row's world: creating it through
    the tools costs a few fsyncs per row otherwise.
    """

    database: Path
    session_id: str
    writer: str
    critic: str
    conversation_id: str


async def _seed(world: World) -> Seed:
    async with in_memory(world) as (alice, _orchestrator):
        session = await ok(alice, "create_session", name="webapp", root_path=str(world.project))
        sid = session["session_id"]
        writer = await ok(alice, "create_agent", session_id=sid, name="writer", role="You write.")
        critic = await ok(alice, "create_agent", session_id=sid, name="critic")
    return Seed(
        database=world.data / "orch.db",
        session_id=sid,
        writer=writer["agent_id"],
        critic=critic["agent_id"],
        conversation_id=writer["conversation"]["conversation_id"],
    )


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory) -> Seed:
    return asyncio.run(_seed(make_world(tmp_path_factory.mktemp("seed"))))


@asynccontextmanager
async def arena(tmp_path: Path, seed: Seed, *, small: bool, hang: bool) -> AsyncIterator[Arena]:
    world = make_world(tmp_path)
    _paths(world)
    world.data.mkdir(exist_ok=True)
    shutil.copy(seed.database, world.data / "orch.db")  # closed cleanly: no -wal left
    settings = test_settings(world)
    if small:
        settings = Settings(claude=settings.claude, server=settings.server, limits=SMALL)
    async with in_memory(world, settings) as (alice, orchestrator):
        busy = None
        if hang:
            sent = await ok(
                alice,
                "send_message_to_agent",
                agent_id=seed.critic,
                message="#hang",
                wait_seconds=0,
            )
            assert sent["status"] == "running"
            busy = sent["turn_id"]
        if small:  # fill the session quota: webapp and one more
            await ok(alice, "create_session", name="second", root_path=str(world.home))
        server = build_server(OrchService(orchestrator), authenticate_as(world, BOB))
        async with Client(server) as bob:
            yield Arena(
                world=world,
                alice=alice,
                bob=bob,
                orchestrator=orchestrator,
                session_id=seed.session_id,
                writer=seed.writer,
                critic=seed.critic,
                conversation_id=seed.conversation_id,
                busy_turn=busy,
            )


async def ok(client: Client[Any], tool: str, **args: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, args, raise_on_error=False)
    assert not result.is_error, f"{tool}({args}) failed: {result.content}"
    return structured(result)


def stored(arena: Arena) -> Any:
    """The state as a fresh reader of the database file sees it."""
    with Store.open(arena.database) as store:
        return store.load()


def assert_safe(text: str, code: str, needle: str, args: dict[str, Any]) -> None:
    """``CODE: message``, the expected code, the needle, and nothing internal."""
    prefix = CODE_PREFIX.match(text)
    assert prefix is not None, f"not 'CODE: message': {text!r}"
    assert prefix.group(1) == code, text
    assert needle in text, f"{needle!r} not in {text!r}"
    for leak in LEAKS:
        assert leak not in text, f"{leak!r} leaked in {text!r}"
    echoed = " ".join(str(v) for v in args.values())
    if "/work/" not in echoed:
        assert "/work/" not in text, text


# -- the table -----------------------------------------------------------------
#
# Arguments are built per row from the arena: a callable value is called with it,
# and MISSING drops the key (a missing required argument).

Args = Callable[[Arena], dict[str, Any]]
MISSING: Any = object()

NEW_S, STATUS, LIST = "create_session", "get_session_status", "list_sessions"
DEL_S, NEW_A, DEL_A = "delete_session", "create_agent", "delete_agent"
SEND, CLEAR = "send_message_to_agent", "clear_agent_conversation"
FRESH = "start_new_agent_conversation"
TOOLS = {NEW_S, STATUS, LIST, DEL_S, NEW_A, DEL_A, SEND, CLEAR, FRESH}

INVALID, NOT_FOUND, LIMIT = "INVALID_ARGUMENT", "NOT_FOUND", "LIMIT_EXCEEDED"
PATH, TAKEN = "PATH_NOT_ALLOWED", "NAME_TAKEN"
A_BUSY, S_BUSY = "AGENT_BUSY", "SESSION_BUSY"
BYPASS = "bypassPermissions"
ABSENT = {"session": "ses_0000000000000000", "agent": "agt_0000000000000000"}
MALFORMED = ["", "../../etc/passwd", "'; DROP TABLE sessions; --", "ses_\x00", "x" * 300]


@attrs.frozen
class Row:
    tool: str
    args: Args
    code: str
    needle: str
    hang: bool = False
    small: bool = False
    as_bob: bool = False


def row(tool: str, label: str, args: Args, code: str, needle: str, **flags: bool) -> Any:
    return pytest.param(Row(tool, args, code, needle, **flags), id=f"{tool}-{label}")


def busy(tool: str, label: str, args: Args, code: str, needle: str) -> Any:
    """A row run while ``critic`` is in the middle of a ``#hang`` turn."""
    return row(tool, label, args, code, needle, hang=True)


def _args(base: dict[str, Any], more: dict[str, Any]) -> Args:
    def build(a: Arena) -> dict[str, Any]:
        merged = {**base, **more}
        return {k: v(a) if callable(v) else v for k, v in merged.items() if v is not MISSING}

    return build


def sid(a: Arena) -> str:
    return a.session_id


def writer(a: Arena) -> str:
    return a.writer


def critic(a: Arena) -> str:
    return a.critic


def project(a: Arena) -> str:
    return str(a.world.project)


def in_home(relative: str) -> Callable[[Arena], str]:
    return lambda a: f"{a.home}/{relative}"


def new_session(**more: Any) -> Args:
    return _args({"name": "fresh", "root_path": project}, more)


def rooted(relative: str) -> Args:
    """``create_session`` on a path relative to HOME."""
    return new_session(root_path=in_home(relative))


def new_agent(**more: Any) -> Args:
    return _args({"session_id": sid, "name": "newbie"}, more)


def on_session(**more: Any) -> Args:
    return _args({"session_id": sid}, more)


def on_agent(**more: Any) -> Args:
    return _args({"agent_id": writer}, more)


def message(**more: Any) -> Args:
    return _args({"agent_id": writer, "message": "hello"}, more)


WRONG_TYPES = [
    row(NEW_S, "name-int", new_session(name=5), INVALID, "name"),
    row(NEW_S, "root-list", new_session(root_path=["/"]), INVALID, "root_path"),
    row(NEW_S, "description-null", new_session(description=None), INVALID, "description"),
    row(NEW_S, "no-name", new_session(name=MISSING), INVALID, "name: required"),
    row(NEW_S, "no-root", new_session(root_path=MISSING), INVALID, "root_path: required"),
    row(NEW_S, "extra", new_session(owner="bob"), INVALID, "owner: unknown argument"),
    row(STATUS, "id-int", on_session(session_id=5), INVALID, "session_id"),
    row(STATUS, "id-null", on_session(session_id=None), INVALID, "session_id"),
    row(STATUS, "no-id", on_session(session_id=MISSING), INVALID, "session_id: required"),
    row(STATUS, "extra", on_session(verbose=True), INVALID, "verbose: unknown argument"),
    row(LIST, "extra", _args({}, {"owner": "bob"}), INVALID, "owner: unknown argument"),
    row(DEL_S, "id-int", on_session(session_id=5), INVALID, "session_id"),
    # A lax validator would read these as true and delete the session.
    row(DEL_S, "force-yes", on_session(force="yes"), INVALID, "force"),
    row(DEL_S, "force-1", on_session(force=1), INVALID, "force"),
    row(DEL_S, "force-string-true", on_session(force="true"), INVALID, "force"),
    row(DEL_S, "force-maybe", on_session(force="maybe"), INVALID, "force"),
    row(DEL_S, "no-id", _args({"force": True}, {}), INVALID, "session_id: required"),
    row(DEL_S, "extra", on_session(recursive=True), INVALID, "recursive: unknown argument"),
    row(NEW_A, "session-int", new_agent(session_id=5), INVALID, "session_id"),
    row(NEW_A, "name-int", new_agent(name=7), INVALID, "name"),
    row(NEW_A, "role-null", new_agent(role=None), INVALID, "role"),
    row(NEW_A, "role-list", new_agent(role=["x"]), INVALID, "role"),
    row(NEW_A, "model-int", new_agent(model=5), INVALID, "model"),
    row(NEW_A, "mode-bool", new_agent(permission_mode=True), INVALID, "permission_mode"),
    row(NEW_A, "no-name", new_agent(name=MISSING), INVALID, "name: required"),
    row(NEW_A, "no-session", new_agent(session_id=MISSING), INVALID, "session_id: required"),
    row(NEW_A, "extra", new_agent(tools=["Bash"]), INVALID, "tools: unknown argument"),
    row(DEL_A, "id-int", on_agent(agent_id=5), INVALID, "agent_id"),
    row(DEL_A, "id-object", on_agent(agent_id={"id": "agt_1"}), INVALID, "agent_id"),
    row(DEL_A, "no-id", on_agent(agent_id=MISSING), INVALID, "agent_id: required"),
    row(DEL_A, "extra", on_agent(force=True), INVALID, "force: unknown argument"),
    row(SEND, "id-int", message(agent_id=5), INVALID, "agent_id"),
    row(SEND, "message-null", message(message=None), INVALID, "message"),
    row(SEND, "message-int", message(message=42), INVALID, "message"),
    row(SEND, "wait-soon", message(wait_seconds="soon"), INVALID, "wait_seconds"),
    row(SEND, "wait-numeric-string", message(wait_seconds="5"), INVALID, "wait_seconds"),
    row(SEND, "wait-negative", message(wait_seconds=-1), INVALID, "wait_seconds"),
    row(SEND, "wait-601", message(wait_seconds=601), INVALID, "wait_seconds"),
    row(SEND, "wait-true", message(wait_seconds=True), INVALID, "wait_seconds"),
    row(SEND, "no-message", message(message=MISSING), INVALID, "message: required"),
    row(SEND, "no-agent", message(agent_id=MISSING), INVALID, "agent_id: required"),
    row(SEND, "extra", message(model="opus"), INVALID, "model: unknown argument"),
    row(CLEAR, "id-int", on_agent(agent_id=5), INVALID, "agent_id"),
    row(CLEAR, "id-null", on_agent(agent_id=None), INVALID, "agent_id"),
    row(CLEAR, "no-id", on_agent(agent_id=MISSING), INVALID, "agent_id: required"),
    row(CLEAR, "extra", on_agent(keep=True), INVALID, "keep: unknown argument"),
    row(FRESH, "id-int", on_agent(agent_id=5), INVALID, "agent_id"),
    row(FRESH, "message-int", on_agent(initial_message=5), INVALID, "initial_message"),
    row(FRESH, "wait-soon", on_agent(wait_seconds="soon"), INVALID, "wait_seconds"),
    row(FRESH, "wait-negative", on_agent(wait_seconds=-1), INVALID, "wait_seconds"),
    row(FRESH, "wait-601", on_agent(wait_seconds=601), INVALID, "wait_seconds"),
    row(FRESH, "no-id", on_agent(agent_id=MISSING, initial_message="hi"), INVALID, "required"),
    row(FRESH, "extra", on_agent(archive=False), INVALID, "archive: unknown argument"),
]


def _unknown_ids() -> list[Any]:
    """Absent, malformed, another kind's and another owner's id, for each id a tool takes."""
    takers: list[tuple[str, str, Callable[..., Args]]] = [
        (STATUS, "session_id", on_session),
        (DEL_S, "session_id", on_session),
        (NEW_A, "session_id", new_agent),
        (DEL_A, "agent_id", on_agent),
        (SEND, "agent_id", message),
        (CLEAR, "agent_id", on_agent),
        (FRESH, "agent_id", lambda **more: on_agent(initial_message="hi", **more)),
    ]
    rows = []
    for tool, key, build in takers:
        kind = key.removesuffix("_id")
        says = f"no {kind} with id"
        other_kind = writer if kind == "session" else sid
        mine = sid if kind == "session" else writer
        rows.append(row(tool, "absent", build(**{key: ABSENT[kind]}), NOT_FOUND, says))
        rows.append(row(tool, "other-kind", build(**{key: other_kind}), NOT_FOUND, says))
        if kind == "agent":
            conversation = build(**{key: lambda a: a.conversation_id})
            rows.append(row(tool, "conversation-id", conversation, NOT_FOUND, says))
        for index, bad in enumerate(MALFORMED):
            rows.append(row(tool, f"malformed-{index}", build(**{key: bad}), NOT_FOUND, says))
        # Someone else's real id answers exactly like an absent one.
        rows.append(row(tool, "other-owner", build(**{key: mine}), NOT_FOUND, says, as_bob=True))
    return rows


OUTSIDE = "outside the allowed roots"

ROOT_PATHS = [
    row(NEW_S, "root-relative", new_session(root_path="project"), INVALID, "absolute"),
    row(NEW_S, "root-dot-relative", new_session(root_path="./project"), INVALID, "absolute"),
    row(NEW_S, "root-tilde", new_session(root_path="~/project"), INVALID, "absolute"),
    row(NEW_S, "root-empty", new_session(root_path=""), INVALID, "root_path"),
    row(NEW_S, "root-dotdot", rooted("project/../../outside"), PATH, OUTSIDE),
    row(NEW_S, "root-dotdot-etc", rooted("../" * 40 + "etc"), PATH, OUTSIDE),
    row(NEW_S, "root-etc", new_session(root_path="/etc"), PATH, OUTSIDE),
    row(NEW_S, "root-slash", new_session(root_path="/"), PATH, OUTSIDE),
    row(NEW_S, "root-link-etc", rooted("etc-link"), PATH, "etc-link"),
    row(NEW_S, "root-link-outside", rooted("out-link"), PATH, "out-link"),
    row(NEW_S, "root-relative-link", rooted("project/deep-out"), PATH, OUTSIDE),
    row(NEW_S, "root-link-dotdot", rooted("out-link/../home-evil"), PATH, OUTSIDE),
    row(NEW_S, "root-prefix-sibling", rooted("../home-evil"), PATH, "home-evil"),
    row(NEW_S, "root-file", rooted("project/notes.txt"), INVALID, "not a directory"),
    row(NEW_S, "root-missing", rooted("missing"), INVALID, "does not exist"),
    row(NEW_S, "root-link-loop", rooted("loop"), INVALID, "does not exist"),
    row(NEW_S, "root-nul", rooted("project\x00/x"), INVALID, "root_path"),
]

BAD_AGENT_NAMES = {
    "upper": "Bad",
    "digit-first": "1x",
    "33-chars": "a" * 33,
    "empty": "",
    "space": "ag ent",
    "trailing-space": "writer ",
    "dotdot": "../x",
    "slash": "a/b",
    "nul": "a\x00b",
    "accent": "écrivain",
}

NAMES = [
    row(NEW_S, "name-taken", new_session(name="webapp"), TAKEN, "'webapp'"),
    row(NEW_S, "name-taken-padded", new_session(name="  webapp\t"), TAKEN, "'webapp'"),
    row(NEW_S, "name-empty", new_session(name=""), INVALID, "name must not be empty"),
    row(NEW_S, "name-blank", new_session(name=" \n "), INVALID, "name must not be empty"),
    row(NEW_S, "name-65-chars", new_session(name="s" * 65), INVALID, "the limit is 64"),
    row(NEW_S, "name-nul", new_session(name="web\x00app"), INVALID, "control characters"),
    row(NEW_S, "name-newline", new_session(name="web\napp"), INVALID, "control characters"),
    row(NEW_A, "name-taken", new_agent(name="writer"), TAKEN, "'writer'"),
    *[
        row(NEW_A, f"name-{label}", new_agent(name=name), INVALID, "not a valid agent name")
        for label, name in BAD_AGENT_NAMES.items()
    ],
]

TEXTS = [
    row(SEND, "nul", message(message="hi\x00there"), INVALID, "message contains a NUL"),
    row(SEND, "empty", message(message=""), INVALID, "message must not be empty"),
    row(SEND, "blank", message(message=" \n\t"), INVALID, "message must not be empty"),
    row(SEND, "over", message(message=OVER_MESSAGE), LIMIT, f"is {MAX_MESSAGE + 1} bytes"),
    row(FRESH, "nul", on_agent(initial_message="\x00"), INVALID, "initial_message contains a NUL"),
    row(FRESH, "empty", on_agent(initial_message=""), INVALID, "initial_message must not be empty"),
    row(FRESH, "over", on_agent(initial_message=OVER_MESSAGE), LIMIT, "initial_message is 102401"),
    row(NEW_A, "role-over", new_agent(role=OVER_ROLE), LIMIT, f"role is {MAX_ROLE + 1} bytes"),
    row(NEW_A, "role-nul", new_agent(role="you\x00write"), INVALID, "role contains a NUL"),
    row(NEW_S, "description-over", new_session(description=OVER_DESC), LIMIT, "is 4097 bytes"),
    row(NEW_S, "description-nul", new_session(description="a\x00"), INVALID, "description"),
    row(NEW_A, "mode-bypass", new_agent(permission_mode=BYPASS), INVALID, f"'{BYPASS}' is not"),
    row(NEW_A, "mode-unknown", new_agent(permission_mode="yolo"), INVALID, "permission_mode"),
    row(NEW_A, "model-flag", new_agent(model="--dangerously-skip-permissions"), INVALID, "model"),
    row(NEW_A, "model-space", new_agent(model="son net"), INVALID, "model 'son net'"),
]

LIMITS = [
    row(NEW_S, "too-many", new_session(name="3"), LIMIT, "max_sessions_per_principal", small=True),
    row(NEW_A, "too-many", new_agent(name="third"), LIMIT, "max_agents_per_session", small=True),
]

BUSY = [
    busy(SEND, "busy", message(agent_id=critic), A_BUSY, "'critic'"),
    busy(CLEAR, "busy", on_agent(agent_id=critic), A_BUSY, "already running"),
    busy(FRESH, "busy", on_agent(agent_id=critic), A_BUSY, "already running"),
    busy(FRESH, "busy-hi", on_agent(agent_id=critic, initial_message="hi"), A_BUSY, "'critic'"),
    busy(DEL_S, "busy", on_session(), S_BUSY, "force=true"),
    busy(DEL_S, "busy-no-force", on_session(force=False), S_BUSY, "1 turn(s)"),
]

TABLE = [*WRONG_TYPES, *_unknown_ids(), *ROOT_PATHS, *NAMES, *TEXTS, *LIMITS, *BUSY]


def test_the_table_covers_every_tool() -> None:
    assert {p.values[0].tool for p in TABLE} == TOOLS
    assert len({p.id for p in TABLE}) == len(TABLE)


@pytest.mark.timeout(20)
@pytest.mark.parametrize("case", TABLE)
async def test_bad_input_is_refused_and_changes_nothing(
    case: Row, seed: Seed, tmp_path: Path
) -> None:
    async with arena(tmp_path, seed, small=case.small, hang=case.hang) as a:
        args = case.args(a)
        memory, disk = a.orchestrator.state, stored(a)
        assert memory == disk
        client = a.bob if case.as_bob else a.alice
        result = await client.call_tool(case.tool, args, raise_on_error=False)
        text = error_text(result)
        assert_safe(text, case.code, case.needle, args)
        assert a.orchestrator.state == memory, "the state changed on a refused call"
        assert stored(a) == disk, "the database changed on a refused call"
        if a.busy_turn is not None:
            assert a.orchestrator.state.agents[AgentId(a.critic)].running_turn_id == a.busy_turn


# -- resources -----------------------------------------------------------------

RESOURCES = [
    pytest.param(lambda a: f"orch://agents/{ABSENT['agent']}/transcript", False, id="agent-absent"),
    pytest.param(
        lambda a: f"orch://agents/{a.session_id}/transcript", False, id="agent-other-kind"
    ),
    pytest.param(lambda a: f"orch://agents/{a.writer}/transcript", True, id="agent-other-owner"),
    pytest.param(
        lambda a: "orch://conversations/cnv_0000000000000000/transcript",
        False,
        id="conversation-absent",
    ),
    pytest.param(
        lambda a: f"orch://conversations/{a.writer}/transcript", False, id="conversation-other-kind"
    ),
    pytest.param(
        lambda a: f"orch://conversations/{a.conversation_id}/transcript",
        True,
        id="conversation-other-owner",
    ),
]


@pytest.mark.timeout(20)
@pytest.mark.parametrize(("uri", "as_bob"), RESOURCES)
async def test_unknown_transcripts_are_not_found(
    uri: Callable[[Arena], str], as_bob: bool, seed: Seed, tmp_path: Path
) -> None:
    async with arena(tmp_path, seed, small=False, hang=False) as a:
        memory, disk = a.orchestrator.state, stored(a)
        client = a.bob if as_bob else a.alice
        with pytest.raises(MCPError) as raised:
            await client.read_resource(uri(a))
        text = str(raised.value)
        assert "NOT_FOUND" in text, text
        assert "no " in text and "with id" in text, text
        for leak in LEAKS:
            assert leak not in text, f"{leak!r} leaked in {text!r}"
        assert a.orchestrator.state == memory
        assert stored(a) == disk


@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    "uri",
    [
        "orch://agents/..%2F..%2Fetc/transcript",
        "orch://agents/../../etc/transcript",
        "orch://conversations/%00/transcript",
    ],
)
async def test_uris_matching_no_resource_are_not_found(
    uri: str, seed: Seed, tmp_path: Path
) -> None:
    """FastMCP's own "Resource not found" when no template matches, else ours; safe either way."""
    async with arena(tmp_path, seed, small=False, hang=False) as a:
        memory, disk = a.orchestrator.state, stored(a)
        with pytest.raises(MCPError) as raised:
            await a.alice.read_resource(uri)
        text = str(raised.value)
        assert re.search("not[ _]found", text, re.IGNORECASE), text
        for leak in LEAKS:
            assert leak not in text, f"{leak!r} leaked in {text!r}"
        assert a.orchestrator.state == memory
        assert stored(a) == disk


# -- the boundary: the last value accepted, next to the first refused -----------


@pytest.mark.timeout(20)
async def test_values_at_the_limit_are_accepted(seed: Seed, tmp_path: Path) -> None:
    async with arena(tmp_path, seed, small=False, hang=False) as a:
        role = "€" * (MAX_ROLE // 3) + "é"  # 8,190 + 2 bytes: exactly the limit
        made = await ok(a.alice, "create_agent", session_id=a.session_id, name="a" * 32, role=role)
        assert made["name"] == "a" * 32
        message = "é" * (MAX_MESSAGE // 2)  # exactly the limit in bytes
        sent = await ok(
            a.alice, "send_message_to_agent", agent_id=a.writer, message=message, wait_seconds=20
        )
        assert sent["status"] == "completed"
        assert sent["reply"] == "turn 1: " + "é" * 200
