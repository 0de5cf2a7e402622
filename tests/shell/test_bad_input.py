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
that need one). A second client acts as another user, ``bob``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import pytest
from fastmcp import Client

from orch_core import Limits, Principal, Settings
from orch_shell._orchestrator import Orchestrator
from orch_shell import _server
from orch_shell._server import build_server
from orch_shell._service import OrchService
from orch_shell._store import Store
from tests.harness import World, error_text, in_memory, make_world, structured, test_settings

BOB = Principal(subject="local:bob")
MAX_MESSAGE = Limits().max_message_bytes
MAX_ROLE = Limits().max_role_bytes
MAX_DESCRIPTION = Limits().max_description_bytes
SMALL = Limits(max_sessions_per_principal=2, max_agents_per_session=2)
SERVER_SOURCE = str(Path(_server.__file__).resolve().parent.parent)
CODE_PREFIX = re.compile(r"^([A-Z_]+): \S")
LEAKS = ("Traceback", 'File "', "sqlite", "SELECT ", "INSERT ", "constraint", ".venv", SERVER_SOURCE)

# Multi-byte texts one byte over their limit: far fewer characters than bytes, so
# a check that counts characters instead of bytes lets them through.
OVER_MESSAGE = "é" * (MAX_MESSAGE // 2) + "m"  # 51,201 characters, 102,401 bytes
OVER_ROLE = "€" * (MAX_ROLE // 3) + "éé"  # 8,190 + 4 bytes
OVER_DESCRIPTION = "😀" * (MAX_DESCRIPTION // 4) + "d"  # 4,096 + 1 bytes


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

    def outside(self, name: str) -> str:
        return str(self.world.root / name)


def _paths(world: World) -> None:
    """Folders, files and symlinks the ``root_path`` rows point at."""
    (world.root / "outside").mkdir()
    (world.root / "home-evil").mkdir()  # shares the allowed root's prefix
    (world.project / "notes.txt").write_text("not a folder\n")
    (world.home / "etc-link").symlink_to("/etc")
    (world.home / "out-link").symlink_to(world.root / "outside")
    (world.project / "deep-out").symlink_to("../../outside")
    (world.home / "loop").symlink_to(world.home / "loop")


@asynccontextmanager
async def arena(tmp_path: Path, *, small: bool, hang: bool) -> AsyncIterator[Arena]:
    world = make_world(tmp_path)
    _paths(world)
    settings = test_settings(world)
    if small:
        settings = Settings(claude=settings.claude, server=settings.server, limits=SMALL)
    async with in_memory(world, settings) as (alice, orchestrator):
        session = await ok(alice, "create_session", name="webapp", root_path=str(world.project))
        sid = session["session_id"]
        writer = await ok(alice, "create_agent", session_id=sid, name="writer", role="You write.")
        critic = await ok(alice, "create_agent", session_id=sid, name="critic")
        busy = None
        if hang:
            sent = await ok(
                alice, "send_message_to_agent", agent_id=critic["agent_id"], message="#hang",
                wait_seconds=0,
            )
            assert sent["status"] == "running"
            busy = sent["turn_id"]
        if small:  # fill the session quota: webapp and one more
            await ok(alice, "create_session", name="second", root_path=str(world.home))
        server = build_server(OrchService(orchestrator), lambda _ctx: BOB)
        async with Client(server) as bob:
            yield Arena(
                world=world,
                alice=alice,
                bob=bob,
                orchestrator=orchestrator,
                session_id=sid,
                writer=writer["agent_id"],
                critic=critic["agent_id"],
                conversation_id=writer["conversation"]["conversation_id"],
                busy_turn=busy,
            )


async def ok(client: Client[Any], tool: str, **args: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, args, raise_on_error=False)
    assert not result.is_error, f"{tool}({args}) failed: {result.content[0].text}"
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

Args = Callable[[Arena], dict[str, Any]]


@attrs.frozen
class Row:
    tool: str
    args: Args
    code: str
    needle: str
    hang: bool = False
    small: bool = False
    as_bob: bool = False


def row(
    ident: str, tool: str, args: Args, code: str, needle: str, **flags: bool
) -> Any:
    return pytest.param(Row(tool, args, code, needle, **flags), id=ident)


INVALID = "INVALID_ARGUMENT"
NOT_FOUND = "NOT_FOUND"
LIMIT = "LIMIT_EXCEEDED"
PATH = "PATH_NOT_ALLOWED"
TAKEN = "NAME_TAKEN"
ABSENT_SESSION = "ses_0000000000000000"
ABSENT_AGENT = "agt_0000000000000000"
MALFORMED = ["", "../../etc/passwd", "'; DROP TABLE sessions; --", "ses_\x00", "x" * 300]


def session(a: Arena, **more: Any) -> dict[str, Any]:
    return {"name": "fresh", "root_path": str(a.world.project), **more}


def agent(a: Arena, **more: Any) -> dict[str, Any]:
    return {"session_id": a.session_id, "name": "newbie", **more}


def send(a: Arena, **more: Any) -> dict[str, Any]:
    return {"agent_id": a.writer, "message": "hello", **more}


WRONG_TYPES = [
    # create_session
    row("create_session-name-int", "create_session", lambda a: session(a, name=5), INVALID, "name"),
    row("create_session-root-list", "create_session",
        lambda a: session(a, root_path=[str(a.world.project)]), INVALID, "root_path"),
    row("create_session-description-null", "create_session",
        lambda a: session(a, description=None), INVALID, "description"),
    row("create_session-no-name", "create_session",
        lambda a: {"root_path": str(a.world.project)}, INVALID, "name: required"),
    row("create_session-no-root", "create_session",
        lambda a: {"name": "fresh"}, INVALID, "root_path: required"),
    row("create_session-extra", "create_session",
        lambda a: session(a, owner="bob"), INVALID, "owner: unknown argument"),
    # get_session_status
    row("status-id-int", "get_session_status", lambda a: {"session_id": 5}, INVALID, "session_id"),
    row("status-id-null", "get_session_status", lambda a: {"session_id": None}, INVALID,
        "session_id"),
    row("status-no-id", "get_session_status", lambda a: {}, INVALID, "session_id: required"),
    row("status-extra", "get_session_status",
        lambda a: {"session_id": a.session_id, "verbose": True}, INVALID, "verbose: unknown"),
    # list_sessions
    row("list-extra", "list_sessions", lambda a: {"owner": "bob"}, INVALID, "owner: unknown"),
    # delete_session
    row("delete_session-id-int", "delete_session", lambda a: {"session_id": 5}, INVALID,
        "session_id"),
    row("delete_session-force-yes", "delete_session",
        lambda a: {"session_id": a.session_id, "force": "yes"}, INVALID, "force"),
    row("delete_session-force-1", "delete_session",
        lambda a: {"session_id": a.session_id, "force": 1}, INVALID, "force"),
    row("delete_session-force-maybe", "delete_session",
        lambda a: {"session_id": a.session_id, "force": "maybe"}, INVALID, "force"),
    row("delete_session-no-id", "delete_session", lambda a: {"force": True}, INVALID,
        "session_id: required"),
    row("delete_session-extra", "delete_session",
        lambda a: {"session_id": a.session_id, "recursive": True}, INVALID, "recursive: unknown"),
    # create_agent
    row("create_agent-session-int", "create_agent", lambda a: agent(a, session_id=5), INVALID,
        "session_id"),
    row("create_agent-name-int", "create_agent", lambda a: agent(a, name=7), INVALID, "name"),
    row("create_agent-role-null", "create_agent", lambda a: agent(a, role=None), INVALID, "role"),
    row("create_agent-role-list", "create_agent", lambda a: agent(a, role=["x"]), INVALID, "role"),
    row("create_agent-model-int", "create_agent", lambda a: agent(a, model=5), INVALID, "model"),
    row("create_agent-mode-bool", "create_agent", lambda a: agent(a, permission_mode=True),
        INVALID, "permission_mode"),
    row("create_agent-no-name", "create_agent", lambda a: {"session_id": a.session_id}, INVALID,
        "name: required"),
    row("create_agent-no-session", "create_agent", lambda a: {"name": "newbie"}, INVALID,
        "session_id: required"),
    row("create_agent-extra", "create_agent", lambda a: agent(a, tools=["Bash"]), INVALID,
        "tools: unknown"),
    # delete_agent
    row("delete_agent-id-int", "delete_agent", lambda a: {"agent_id": 5}, INVALID, "agent_id"),
    row("delete_agent-id-dict", "delete_agent", lambda a: {"agent_id": {"id": a.writer}},
        INVALID, "agent_id"),
    row("delete_agent-no-id", "delete_agent", lambda a: {}, INVALID, "agent_id: required"),
    row("delete_agent-extra", "delete_agent", lambda a: {"agent_id": a.writer, "force": True},
        INVALID, "force: unknown"),
    # send_message_to_agent
    row("send-id-int", "send_message_to_agent", lambda a: send(a, agent_id=5), INVALID,
        "agent_id"),
    row("send-message-null", "send_message_to_agent", lambda a: send(a, message=None), INVALID,
        "message"),
    row("send-message-int", "send_message_to_agent", lambda a: send(a, message=42), INVALID,
        "message"),
    row("send-wait-soon", "send_message_to_agent", lambda a: send(a, wait_seconds="soon"),
        INVALID, "wait_seconds"),
    row("send-wait-negative", "send_message_to_agent", lambda a: send(a, wait_seconds=-1),
        INVALID, "wait_seconds"),
    row("send-wait-601", "send_message_to_agent", lambda a: send(a, wait_seconds=601), INVALID,
        "wait_seconds"),
    row("send-wait-true", "send_message_to_agent", lambda a: send(a, wait_seconds=True),
        INVALID, "wait_seconds"),
    row("send-no-message", "send_message_to_agent", lambda a: {"agent_id": a.writer}, INVALID,
        "message: required"),
    row("send-no-agent", "send_message_to_agent", lambda a: {"message": "hello"}, INVALID,
        "agent_id: required"),
    row("send-extra", "send_message_to_agent", lambda a: send(a, model="opus"), INVALID,
        "model: unknown"),
    # clear_agent_conversation
    row("clear-id-int", "clear_agent_conversation", lambda a: {"agent_id": 5}, INVALID,
        "agent_id"),
    row("clear-id-null", "clear_agent_conversation", lambda a: {"agent_id": None}, INVALID,
        "agent_id"),
    row("clear-no-id", "clear_agent_conversation", lambda a: {}, INVALID, "agent_id: required"),
    row("clear-extra", "clear_agent_conversation",
        lambda a: {"agent_id": a.writer, "keep": True}, INVALID, "keep: unknown"),
    # start_new_agent_conversation
    row("start_new-id-int", "start_new_agent_conversation", lambda a: {"agent_id": 5}, INVALID,
        "agent_id"),
    row("start_new-message-int", "start_new_agent_conversation",
        lambda a: {"agent_id": a.writer, "initial_message": 5}, INVALID, "initial_message"),
    row("start_new-wait-soon", "start_new_agent_conversation",
        lambda a: {"agent_id": a.writer, "wait_seconds": "soon"}, INVALID, "wait_seconds"),
    row("start_new-wait-negative", "start_new_agent_conversation",
        lambda a: {"agent_id": a.writer, "wait_seconds": -1}, INVALID, "wait_seconds"),
    row("start_new-wait-601", "start_new_agent_conversation",
        lambda a: {"agent_id": a.writer, "wait_seconds": 601}, INVALID, "wait_seconds"),
    row("start_new-no-id", "start_new_agent_conversation", lambda a: {"initial_message": "hi"},
        INVALID, "agent_id: required"),
    row("start_new-extra", "start_new_agent_conversation",
        lambda a: {"agent_id": a.writer, "archive": False}, INVALID, "archive: unknown"),
]


def _unknown_ids() -> list[Any]:
    """Absent, malformed, and another kind's id, for every tool that takes an id."""
    takers: list[tuple[str, str, str, Callable[[Arena, str], dict[str, Any]]]] = [
        ("status", "session", ABSENT_SESSION, lambda a, i: {"session_id": i}),
        ("delete_session", "session", ABSENT_SESSION, lambda a, i: {"session_id": i}),
        ("create_agent", "session", ABSENT_SESSION, lambda a, i: agent(a, session_id=i)),
        ("delete_agent", "agent", ABSENT_AGENT, lambda a, i: {"agent_id": i}),
        ("send", "agent", ABSENT_AGENT, lambda a, i: send(a, agent_id=i)),
        ("clear", "agent", ABSENT_AGENT, lambda a, i: {"agent_id": i}),
        ("start_new", "agent", ABSENT_AGENT,
         lambda a, i: {"agent_id": i, "initial_message": "hi"}),
    ]
    tools = {
        "status": "get_session_status",
        "delete_session": "delete_session",
        "create_agent": "create_agent",
        "delete_agent": "delete_agent",
        "send": "send_message_to_agent",
        "clear": "clear_agent_conversation",
        "start_new": "start_new_agent_conversation",
    }
    rows = []
    for short, kind, absent, build in takers:
        tool = tools[short]
        # An existing id of the other kind (and a conversation id, for agents).
        other: Callable[[Arena], str] = (
            (lambda a: a.writer) if kind == "session" else (lambda a: a.session_id)
        )
        rows.append(row(f"{short}-absent", tool, lambda a, b=build, i=absent: b(a, i),
                        NOT_FOUND, f"no {kind} with id"))
        rows.append(row(f"{short}-other-kind", tool, lambda a, b=build, o=other: b(a, o(a)),
                        NOT_FOUND, f"no {kind} with id"))
        if kind == "agent":
            rows.append(row(f"{short}-conversation-id", tool,
                            lambda a, b=build: b(a, a.conversation_id), NOT_FOUND, "no agent"))
        for index, bad in enumerate(MALFORMED):
            rows.append(row(f"{short}-malformed-{index}", tool,
                            lambda a, b=build, i=bad: b(a, i), NOT_FOUND, f"no {kind} with id"))
        # Someone else's real id answers exactly like an absent one.
        mine: Callable[[Arena], str] = (
            (lambda a: a.session_id) if kind == "session" else (lambda a: a.writer)
        )
        rows.append(row(f"{short}-other-owner", tool, lambda a, b=build, m=mine: b(a, m(a)),
                        NOT_FOUND, f"no {kind} with id", as_bob=True))
    return rows


def root(path: Callable[[Arena], str]) -> Args:
    return lambda a: session(a, root_path=path(a))


ROOT_PATHS = [
    row("root-relative", "create_session", root(lambda a: "project"), INVALID, "absolute"),
    row("root-dot-relative", "create_session", root(lambda a: "./project"), INVALID, "absolute"),
    row("root-home-tilde", "create_session", root(lambda a: "~/project"), INVALID, "absolute"),
    row("root-empty", "create_session", root(lambda a: ""), INVALID, "root_path"),
    row("root-dotdot-outside", "create_session",
        root(lambda a: f"{a.home}/project/../../outside"), PATH, "outside the allowed roots"),
    row("root-dotdot-etc", "create_session",
        root(lambda a: f"{a.home}/project/" + "../" * 40 + "etc"), PATH, "root_path"),
    row("root-etc", "create_session", root(lambda a: "/etc"), PATH, "outside the allowed roots"),
    row("root-slash", "create_session", root(lambda a: "/"), PATH, "outside the allowed roots"),
    row("root-symlink-etc", "create_session", root(lambda a: f"{a.home}/etc-link"), PATH,
        "etc-link"),
    row("root-symlink-outside", "create_session", root(lambda a: f"{a.home}/out-link"), PATH,
        "out-link"),
    row("root-symlink-relative-outside", "create_session",
        root(lambda a: f"{a.home}/project/deep-out"), PATH, "deep-out"),
    row("root-symlink-then-dotdot", "create_session",
        root(lambda a: f"{a.home}/out-link/../home-evil"), PATH, "outside the allowed roots"),
    row("root-prefix-sibling", "create_session", root(lambda a: a.outside("home-evil")), PATH,
        "home-evil"),
    row("root-file", "create_session", root(lambda a: f"{a.home}/project/notes.txt"), INVALID,
        "not a directory"),
    row("root-missing", "create_session", root(lambda a: f"{a.home}/missing"), INVALID,
        "does not exist"),
    row("root-symlink-loop", "create_session", root(lambda a: f"{a.home}/loop"), INVALID,
        "root_path"),
    row("root-nul", "create_session", root(lambda a: f"{a.home}/project\x00/x"), INVALID,
        "root_path"),
]

NAMES = [
    row("session-name-taken", "create_session", lambda a: session(a, name="webapp"), TAKEN,
        "webapp"),
    row("session-name-taken-padded", "create_session", lambda a: session(a, name="  webapp\t"),
        TAKEN, "webapp"),
    row("session-name-empty", "create_session", lambda a: session(a, name=""), INVALID,
        "name must not be empty"),
    row("session-name-blank", "create_session", lambda a: session(a, name=" \n "), INVALID,
        "name must not be empty"),
    row("session-name-65", "create_session", lambda a: session(a, name="s" * 65), INVALID,
        "the limit is 64"),
    row("session-name-control", "create_session", lambda a: session(a, name="web\x00app"),
        INVALID, "control characters"),
    row("session-name-newline", "create_session", lambda a: session(a, name="web\napp"),
        INVALID, "control characters"),
    row("agent-name-taken", "create_agent", lambda a: agent(a, name="writer"), TAKEN, "writer"),
    *[
        row(f"agent-name-{label}", "create_agent", lambda a, n=name: agent(a, name=n), INVALID,
            "not a valid agent name")
        for label, name in [
            ("upper", "Bad"),
            ("digit-first", "1x"),
            ("33-chars", "a" * 33),
            ("empty", ""),
            ("space", "ag ent"),
            ("trailing-space", "writer "),
            ("dotdot", "../x"),
            ("slash", "a/b"),
            ("nul", "a\x00b"),
            ("accent", "écrivain"),
        ]
    ],
]

TEXTS = [
    row("send-nul", "send_message_to_agent", lambda a: send(a, message="hi\x00there"), INVALID,
        "message contains a NUL"),
    row("send-empty", "send_message_to_agent", lambda a: send(a, message=""), INVALID,
        "message must not be empty"),
    row("send-blank", "send_message_to_agent", lambda a: send(a, message=" \n\t"), INVALID,
        "message must not be empty"),
    row("send-over-by-one-byte", "send_message_to_agent", lambda a: send(a, message=OVER_MESSAGE),
        LIMIT, f"message is {MAX_MESSAGE + 1} bytes"),
    row("start_new-nul", "start_new_agent_conversation",
        lambda a: {"agent_id": a.writer, "initial_message": "\x00"}, INVALID,
        "initial_message contains a NUL"),
    row("start_new-empty", "start_new_agent_conversation",
        lambda a: {"agent_id": a.writer, "initial_message": ""}, INVALID,
        "initial_message must not be empty"),
    row("start_new-over-by-one-byte", "start_new_agent_conversation",
        lambda a: {"agent_id": a.writer, "initial_message": OVER_MESSAGE}, LIMIT,
        f"initial_message is {MAX_MESSAGE + 1} bytes"),
    row("role-over-8k", "create_agent", lambda a: agent(a, role=OVER_ROLE), LIMIT,
        f"role is {MAX_ROLE + 1} bytes"),
    row("role-nul", "create_agent", lambda a: agent(a, role="you\x00write"), INVALID,
        "role contains a NUL"),
    row("description-over", "create_session", lambda a: session(a, description=OVER_DESCRIPTION),
        LIMIT, f"description is {MAX_DESCRIPTION + 1} bytes"),
    row("description-nul", "create_session", lambda a: session(a, description="a\x00"), INVALID,
        "description contains a NUL"),
    row("mode-bypass", "create_agent", lambda a: agent(a, permission_mode="bypassPermissions"),
        INVALID, "permission_mode 'bypassPermissions' is not allowed"),
    row("mode-unknown", "create_agent", lambda a: agent(a, permission_mode="yolo"), INVALID,
        "permission_mode"),
    row("model-flag", "create_agent", lambda a: agent(a, model="--dangerously-skip-permissions"),
        INVALID, "model"),
    row("model-space", "create_agent", lambda a: agent(a, model="son net"), INVALID, "model"),
]

LIMITS = [
    row("too-many-sessions", "create_session", lambda a: session(a, name="third"), LIMIT,
        "limits.max_sessions_per_principal", small=True),
    row("too-many-agents", "create_agent", lambda a: agent(a, name="third"), LIMIT,
        "limits.max_agents_per_session", small=True),
]

BUSY = [
    row("send-busy", "send_message_to_agent", lambda a: send(a, agent_id=a.critic), "AGENT_BUSY",
        "critic", hang=True),
    row("clear-busy", "clear_agent_conversation", lambda a: {"agent_id": a.critic}, "AGENT_BUSY",
        "already running turn", hang=True),
    row("start_new-busy", "start_new_agent_conversation", lambda a: {"agent_id": a.critic},
        "AGENT_BUSY", "already running turn", hang=True),
    row("start_new-busy-with-message", "start_new_agent_conversation",
        lambda a: {"agent_id": a.critic, "initial_message": "hi"}, "AGENT_BUSY", "critic",
        hang=True),
    row("delete_session-busy", "delete_session", lambda a: {"session_id": a.session_id},
        "SESSION_BUSY", "force=true", hang=True),
    row("delete_session-busy-force-false", "delete_session",
        lambda a: {"session_id": a.session_id, "force": False}, "SESSION_BUSY", "1 turn(s)",
        hang=True),
]

TABLE = [*WRONG_TYPES, *_unknown_ids(), *ROOT_PATHS, *NAMES, *TEXTS, *LIMITS, *BUSY]
TOOLS = {
    "create_session", "get_session_status", "list_sessions", "delete_session", "create_agent",
    "delete_agent", "send_message_to_agent", "clear_agent_conversation",
    "start_new_agent_conversation",
}


def test_the_table_covers_every_tool() -> None:
    assert {p.values[0].tool for p in TABLE} == TOOLS
    assert len({p.id for p in TABLE}) == len(TABLE)


@pytest.mark.timeout(20)
@pytest.mark.parametrize("case", TABLE)
async def test_bad_input_is_refused_and_changes_nothing(case: Row, tmp_path: Path) -> None:
    async with arena(tmp_path, small=case.small, hang=case.hang) as a:
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
            assert a.orchestrator.state.agents[a.critic].running_turn_id == a.busy_turn


# -- resources -----------------------------------------------------------------

RESOURCES = [
    pytest.param(lambda a: f"orch://agents/{ABSENT_AGENT}/transcript", False, id="agent-absent"),
    pytest.param(lambda a: f"orch://agents/{a.session_id}/transcript", False,
                 id="agent-other-kind"),
    pytest.param(lambda a: "orch://agents/..%2F..%2Fetc/transcript", False, id="agent-traversal"),
    pytest.param(lambda a: f"orch://agents/{a.writer}/transcript", True, id="agent-other-owner"),
    pytest.param(lambda a: "orch://conversations/cnv_0000000000000000/transcript", False,
                 id="conversation-absent"),
    pytest.param(lambda a: f"orch://conversations/{a.writer}/transcript", False,
                 id="conversation-other-kind"),
    pytest.param(lambda a: f"orch://conversations/{a.conversation_id}/transcript", True,
                 id="conversation-other-owner"),
]


@pytest.mark.timeout(20)
@pytest.mark.parametrize(("uri", "as_bob"), RESOURCES)
async def test_unknown_transcripts_are_not_found(
    uri: Callable[[Arena], str], as_bob: bool, tmp_path: Path
) -> None:
    async with arena(tmp_path, small=False, hang=False) as a:
        memory, disk = a.orchestrator.state, stored(a)
        client = a.bob if as_bob else a.alice
        with pytest.raises(Exception) as raised:  # noqa: PT011 - the client's error class varies
            await client.read_resource(uri(a))
        text = str(raised.value)
        assert "NOT_FOUND" in text, text
        assert "no " in text and "with id" in text, text
        for leak in LEAKS:
            assert leak not in text, f"{leak!r} leaked in {text!r}"
        assert a.orchestrator.state == memory
        assert stored(a) == disk


# -- the boundary: the last value accepted, next to the first refused -----------


@pytest.mark.timeout(20)
async def test_values_at_the_limit_are_accepted(tmp_path: Path) -> None:
    async with arena(tmp_path, small=False, hang=False) as a:
        role = "€" * (MAX_ROLE // 3) + "é"  # 8,190 + 2 bytes: exactly the limit
        made = await ok(a.alice, "create_agent", session_id=a.session_id, name="a" * 32, role=role)
        assert made["name"] == "a" * 32
        message = "é" * (MAX_MESSAGE // 2)  # exactly the limit in bytes
        sent = await ok(a.alice, "send_message_to_agent", agent_id=a.writer, message=message,
                        wait_seconds=20)
        assert sent["status"] == "completed"
        assert sent["reply"] == "turn 1: " + "é" * 200
