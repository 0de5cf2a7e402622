"""Which scope each action needs, and the one check that enforces it.

For every tool: refused without its scope (``PERMISSION_DENIED`` naming exactly
that scope), allowed with it, and always allowed to ``orch:admin``.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from returns.result import Success

from orch_core import (
    ADMIN_SCOPE,
    AGENTS_MESSAGE,
    AGENTS_WRITE,
    ALL_SCOPES,
    DEFAULT_ACTION_SCOPES,
    METRICS_READ,
    SESSIONS_READ,
    SESSIONS_WRITE,
    ErrorCode,
    Principal,
    SecurityPolicy,
    authorize,
    required_scopes,
)
from tests.strategies import scope_tables, scope_words

TOOLS = sorted(DEFAULT_ACTION_SCOPES)


def _denied_scope(principal: Principal, action: str, **options: object) -> str:
    """The one scope named by the ``PERMISSION_DENIED`` refusal (and check it names one)."""
    error = authorize(principal, action, **options).failure()  # type: ignore[arg-type]
    assert error.code is ErrorCode.PERMISSION_DENIED
    named = [scope for scope in {*ALL_SCOPES, *options.get("table", {}).values()}
             if f"'{scope}'" in error.message]  # fmt: skip
    assert len(named) == 1, error.message
    assert action in error.message
    return named[0]


def test_the_default_table_covers_every_tool_transcript_and_metrics_reads() -> None:
    assert (
        sorted(
            [
                "clear_agent_conversation",
                "create_agent",
                "create_session",
                "delete_agent",
                "delete_session",
                "get_session_status",
                "list_sessions",
                "read_metrics",
                "read_resource",
                "send_message_to_agent",
                "start_new_agent_conversation",
            ]
        )
        == TOOLS
    )
    assert set(DEFAULT_ACTION_SCOPES.values()) == {
        SESSIONS_READ,
        SESSIONS_WRITE,
        AGENTS_WRITE,
        AGENTS_MESSAGE,
        METRICS_READ,
    }


@pytest.mark.parametrize("action", TOOLS)
def test_each_tool_is_refused_without_its_scope_naming_exactly_it(action: str) -> None:
    scope = DEFAULT_ACTION_SCOPES[action]
    others = frozenset(ALL_SCOPES) - {scope, ADMIN_SCOPE}
    assert _denied_scope(Principal(subject="ann", scopes=others), action) == scope
    assert _denied_scope(Principal(subject="ann"), action) == scope


@pytest.mark.parametrize("action", TOOLS)
def test_each_tool_is_allowed_with_its_scope_alone(action: str) -> None:
    principal = Principal(subject="ann", scopes={DEFAULT_ACTION_SCOPES[action]})
    assert authorize(principal, action) == Success(principal)


@given(
    action=st.sampled_from([*TOOLS, "no_such_tool", ""]),
    with_message=st.booleans(),
    table=scope_tables(),
)
def test_admin_may_do_everything(action: str, with_message: bool, table: dict[str, str]) -> None:
    admin = Principal(subject="root", scopes={ADMIN_SCOPE})
    assert authorize(admin, action, with_message=with_message, table=table) == Success(admin)


def test_starting_a_new_conversation_with_a_message_needs_both_scopes() -> None:
    action = "start_new_agent_conversation"
    assert required_scopes(action) == (AGENTS_WRITE,)
    assert required_scopes(action, with_message=True) == (AGENTS_WRITE, AGENTS_MESSAGE)
    writer = Principal(subject="ann", scopes={AGENTS_WRITE})
    messenger = Principal(subject="ann", scopes={AGENTS_MESSAGE})
    both = Principal(subject="ann", scopes={AGENTS_WRITE, AGENTS_MESSAGE})
    assert authorize(writer, action) == Success(writer)
    assert _denied_scope(writer, action, with_message=True) == AGENTS_MESSAGE
    assert _denied_scope(messenger, action, with_message=True) == AGENTS_WRITE
    assert authorize(both, action, with_message=True) == Success(both)


def test_an_overridden_table_is_honoured() -> None:
    table = SecurityPolicy(
        issuer="https://idp.example/",
        audience="orch",
        jwks_url="https://idp.example/jwks",
        scopes={"list_sessions": "reports:read", "send_message_to_agent": "chat"},
    ).scopes
    reader = Principal(subject="ann", scopes={"reports:read"})
    assert authorize(reader, "list_sessions", table=table) == Success(reader)
    default_reader = Principal(subject="ann", scopes={SESSIONS_READ})
    assert _denied_scope(default_reader, "list_sessions", table=table) == "reports:read"
    assert authorize(default_reader, "get_session_status", table=table) == Success(default_reader)
    writer = Principal(subject="ann", scopes={AGENTS_WRITE, AGENTS_MESSAGE})
    denied = _denied_scope(writer, "start_new_agent_conversation", with_message=True, table=table)
    assert denied == "chat"


@given(table=scope_tables(), action=st.sampled_from(TOOLS), scope=scope_words())
def test_any_table_decides_by_its_own_entry(table: dict[str, str], action: str, scope: str) -> None:
    """Contract: with ``table``, ``action`` needs ``table[action]`` (no message), nothing else."""
    full = {**DEFAULT_ACTION_SCOPES, **table}
    needed = full[action]
    holder = Principal(subject="ann", scopes={needed})
    assert authorize(holder, action, table=full) == Success(holder)
    if scope not in {needed, ADMIN_SCOPE}:
        stranger = Principal(subject="ann", scopes={scope})
        assert authorize(stranger, action, table=full).failure().code is ErrorCode.PERMISSION_DENIED


@pytest.mark.parametrize("action", ["no_such_tool", "", "admin_only_future_tool"])
def test_an_unmapped_action_needs_admin(action: str) -> None:
    assert required_scopes(action) == (ADMIN_SCOPE,)
    everything_but_admin = Principal(subject="ann", scopes=set(ALL_SCOPES) - {ADMIN_SCOPE})
    assert _denied_scope(everything_but_admin, action) == ADMIN_SCOPE
    admin = Principal(subject="root", scopes={ADMIN_SCOPE})
    assert authorize(admin, action) == Success(admin)
