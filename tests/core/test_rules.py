"""Every input rule, as a table: the exact error code and a message naming the field.

Rules are exercised through ``decide`` (what a tool call reaches), each table row
a boundary: the last value accepted and the first refused.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from returns.result import Failure, Success

from orch_core import (
    DeleteAgent,
    DeleteSession,
    ErrorCode,
    Limits,
    OrchError,
    PathFacts,
    Policy,
    Settings,
    StartTurn,
    StopTurn,
    TurnStatus,
    decide,
)
from tests.core.scenario import Scenario
from tests.strategies import (
    ALICE,
    BOB,
    SMALL_LIMITS,
    SMALL_POLICY,
    agent_names,
    invalid_agent_names,
    message_cases,
    path_fact_cases,
    session_name_cases,
)

DEFAULT_POLICY = Policy(
    limits=Limits(), permission_modes=Settings().claude.permission_modes, allowed_roots=("/srv",)
)
INVALID = ErrorCode.INVALID_ARGUMENT
LIMIT = ErrorCode.LIMIT_EXCEEDED


def small() -> Scenario:
    return Scenario(policy=SMALL_POLICY, principal=ALICE)


def with_agent(policy: Policy = SMALL_POLICY) -> tuple[Scenario, str]:
    scenario = Scenario(policy=policy, principal=ALICE)
    return scenario, scenario.agent(scenario.session())


def assert_refused(error: OrchError, code: ErrorCode, *names: str) -> None:
    assert error.code is code, error
    for name in names:
        assert name in error.message, (name, error.message)


# -- agent names --------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "accepted"),
    [
        ("a", True),
        ("reviewer", True),
        ("a-b_c9", True),
        ("a" + "b" * 31, True),  # 32 characters: the longest
        ("a" + "b" * 32, False),  # 33 characters
        ("", False),
        ("Reviewer", False),
        ("revieweR", False),
        ("1st", False),
        ("_x", False),
        ("-x", False),
        ("a b", False),
        ("a.b", False),
        ("dev\n", False),  # a trailing newline must not sneak past a `$` anchor
        ("dév", False),
    ],
)
def test_agent_name_rule(name: str, accepted: bool) -> None:
    scenario = small()
    result = scenario.run(scenario.create_agent(scenario.session(), name))
    if accepted:
        assert isinstance(result, Success)
        assert scenario.state.agents[result.unwrap().events[0].agent.id].name == name
    else:
        error = result.failure()
        assert_refused(error, INVALID, "name", repr(name))


@given(name=agent_names())
def test_every_valid_agent_name_is_accepted(name: str) -> None:
    scenario = small()
    assert isinstance(scenario.run(scenario.create_agent(scenario.session(), name)), Success)


@given(name=invalid_agent_names())
def test_every_invalid_agent_name_is_refused(name: str) -> None:
    scenario = small()
    error = scenario.fail(scenario.create_agent(scenario.session(), name))
    assert_refused(error, INVALID, "name")


# -- session names, descriptions ------------------------------------------------


@pytest.mark.parametrize(
    ("name", "code", "words"),
    [
        ("", INVALID, ("name", "empty")),
        ("   \t", INVALID, ("name", "empty")),
        ("x" * SMALL_LIMITS.max_name_chars, None, ()),
        ("é" * SMALL_LIMITS.max_name_chars, None, ()),  # characters, not bytes
        ("x" * (SMALL_LIMITS.max_name_chars + 1), INVALID, ("name", "17", "16")),
        ("a\x01b", INVALID, ("name", "control")),
        ("a\tb", INVALID, ("name", "control")),
        ("a\nb", INVALID, ("name", "control")),
        ("My project (v2)", None, ()),
    ],
)
def test_session_name_rule(name: str, code: ErrorCode | None, words: tuple[str, ...]) -> None:
    scenario = small()
    result = scenario.run(scenario.create_session(name))
    if code is None:
        assert isinstance(result, Success)
    else:
        assert_refused(result.failure(), code, *words)


@given(case=session_name_cases())
def test_session_name_cases(case: tuple[str, ErrorCode | None]) -> None:
    name, code = case
    scenario = small()
    result = scenario.run(scenario.create_session(name))
    if code is None:
        assert isinstance(result, Success), result
    else:
        assert_refused(result.failure(), code, "name")


def test_session_name_is_trimmed_and_a_trimmed_duplicate_is_taken() -> None:
    scenario = small()
    session_id = scenario.session("  proj  ")
    assert scenario.state.sessions[session_id].name == "proj"
    error = scenario.fail(scenario.create_session("proj "))
    assert_refused(error, ErrorCode.NAME_TAKEN, "'proj'")


@pytest.mark.parametrize(
    ("size", "code"),
    [
        (SMALL_LIMITS.max_description_bytes, None),
        (SMALL_LIMITS.max_description_bytes + 1, LIMIT),
    ],
)
def test_description_limit_in_bytes(size: int, code: ErrorCode | None) -> None:
    scenario = small()
    result = scenario.run(scenario.create_session(description="d" * size))
    if code is None:
        assert isinstance(result, Success)
    else:
        assert_refused(result.failure(), code, "description", str(size))


def test_description_may_be_empty_but_not_hold_nul() -> None:
    scenario = small()
    assert isinstance(scenario.run(scenario.create_session(description="")), Success)
    error = scenario.fail(scenario.create_session("other", description="a\x00b"))
    assert_refused(error, INVALID, "description", "NUL")


# -- messages -------------------------------------------------------------------

MAX = Limits().max_message_bytes


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("m" * MAX, None),  # exactly 100 KB
        ("m" * (MAX + 1), LIMIT),
        ("é" * (MAX // 2), None),  # 2 bytes each: exactly the limit
        ("é" * (MAX // 2) + "m", LIMIT),  # 51,201 characters but 102,401 bytes
        ("€" * (MAX // 3) + "m", None),  # 3 bytes each: 102,399 + 1
        ("€" * (MAX // 3) + "é", LIMIT),  # 102,399 + 2
        ("😀" * (MAX // 4), None),
        ("😀" * (MAX // 4) + "m", LIMIT),
        ("hello\x00world", INVALID),
        ("\x00", INVALID),
        ("", INVALID),
        (" \n\t ", INVALID),
        ("lone \ud800 surrogate", INVALID),
    ],
)
def test_message_rule(message: str, code: ErrorCode | None) -> None:
    scenario, agent = with_agent(DEFAULT_POLICY)
    command = scenario.send_message(agent, message)
    result = scenario.run(command)
    if code is None:
        assert isinstance(result, Success)
        (start,) = result.unwrap().effects
        assert isinstance(start, StartTurn)
        assert start.message == message
    else:
        assert_refused(result.failure(), code, "message")
        assert scenario.state.agents[agent].running_turn_id is None


def test_limit_message_states_the_size_and_the_limit() -> None:
    scenario, agent = with_agent(DEFAULT_POLICY)
    error = scenario.fail(scenario.send_message(agent, "é" * (MAX // 2) + "m"))
    assert_refused(error, LIMIT, "message", "102401 bytes", "102400")


@given(case=message_cases())
def test_message_cases_for_send_and_start_new(case: tuple[str, ErrorCode | None]) -> None:
    message, code = case
    scenario, agent = with_agent()
    send = scenario.run(scenario.send_message(agent, message))
    fresh = Scenario(policy=SMALL_POLICY, principal=ALICE)
    fresh_agent = fresh.agent(fresh.session())
    start_new = fresh.run(fresh.start_new(fresh_agent, message))
    if code is None:
        assert isinstance(send, Success)
        assert isinstance(start_new, Success)
    else:
        assert_refused(send.failure(), code, "message")
        assert_refused(start_new.failure(), code, "initial_message")


# -- role, model, permission mode --------------------------------------------------

ROLE_MAX = Limits().max_role_bytes


@pytest.mark.parametrize(
    ("role", "code"),
    [
        ("", None),
        ("r" * ROLE_MAX, None),
        ("r" * (ROLE_MAX + 1), LIMIT),
        ("€" * (ROLE_MAX // 3) + "é", None),  # 8190 + 2
        ("€" * (ROLE_MAX // 3) + "€", LIMIT),  # 8190 + 3
        ("a\x00", INVALID),
    ],
)
def test_role_rule(role: str, code: ErrorCode | None) -> None:
    scenario = Scenario(policy=DEFAULT_POLICY, principal=ALICE)
    result = scenario.run(scenario.create_agent(scenario.session(), role=role))
    if code is None:
        assert isinstance(result, Success)
    else:
        assert_refused(result.failure(), code, "role")


@pytest.mark.parametrize(
    ("mode", "accepted"),
    [
        (None, True),
        ("default", True),
        ("plan", True),
        ("bypassPermissions", False),
        ("acceptEdits", False),
        ("PLAN", False),
        ("", False),
    ],
)
def test_permission_mode_must_be_in_the_allow_list(mode: str | None, accepted: bool) -> None:
    scenario = small()  # allows "default" and "plan" only
    result = scenario.run(scenario.create_agent(scenario.session(), permission_mode=mode))
    if accepted:
        assert isinstance(result, Success)
    else:
        assert_refused(result.failure(), INVALID, "permission_mode", repr(mode), "default, plan")


@pytest.mark.parametrize(
    ("model", "accepted"),
    [
        (None, True),
        ("sonnet", True),
        ("claude-opus-4-1", True),
        ("claude-sonnet-4-5[1m]", True),
        ("", False),
        ("two words", False),
        ("-flag", False),
        ("m" * 101, False),
    ],
)
def test_model_name_rule(model: str | None, accepted: bool) -> None:
    scenario = small()
    result = scenario.run(scenario.create_agent(scenario.session(), model=model))
    if accepted:
        assert isinstance(result, Success)
    else:
        assert_refused(result.failure(), INVALID, "model")


# -- root paths -----------------------------------------------------------------


def facts(
    given: str, *, exists: bool = True, is_dir: bool = True, resolved: str | None = None
) -> PathFacts:
    return PathFacts(
        given=given,
        is_absolute=given.startswith("/"),
        exists=exists,
        is_dir=is_dir,
        resolved=(resolved or given) if exists else None,
    )


@pytest.mark.parametrize(
    ("root", "code", "stored"),
    [
        (facts("/home/a"), None, "/home/a"),  # the root itself
        (facts("/home/a/"), None, "/home/a/"),
        (facts("/home/a/proj/x"), None, "/home/a/proj/x"),
        (facts("/home/a/link", resolved="/srv/orch/real"), None, "/srv/orch/real"),
        (facts("/home/ab"), ErrorCode.PATH_NOT_ALLOWED, None),  # shares the prefix only
        (facts("/home/ab/proj"), ErrorCode.PATH_NOT_ALLOWED, None),
        (facts("/home"), ErrorCode.PATH_NOT_ALLOWED, None),
        (facts("/"), ErrorCode.PATH_NOT_ALLOWED, None),
        (facts("/etc"), ErrorCode.PATH_NOT_ALLOWED, None),
        (facts("/home/a/../../etc", resolved="/etc"), ErrorCode.PATH_NOT_ALLOWED, None),
        (facts("/home/a/out", resolved="/var/tmp"), ErrorCode.PATH_NOT_ALLOWED, None),
        (facts("proj", resolved="/home/a/proj"), INVALID, None),  # relative
        (facts("./proj", resolved="/home/a/proj"), INVALID, None),
        (facts("/home/a/missing", exists=False), INVALID, None),
        (facts("/home/a/notes.txt", is_dir=False), INVALID, None),
    ],
)
def test_root_path_rule(root: PathFacts, code: ErrorCode | None, stored: str | None) -> None:
    scenario = small()
    result = scenario.run(scenario.create_session(root=root))
    if code is None:
        session = result.unwrap().events[0].session
        assert session.root_path == stored  # the resolved path, never the given one
    else:
        assert_refused(result.failure(), code, "root_path", repr(root.given))


def test_path_not_allowed_lists_the_roots_and_the_setting() -> None:
    scenario = small()
    error = scenario.fail(scenario.create_session(root=facts("/etc")))
    assert_refused(
        error, ErrorCode.PATH_NOT_ALLOWED, "/srv/orch", "/home/a", "server.allowed_roots"
    )


@given(case=path_fact_cases())
def test_path_fact_cases(case: tuple[PathFacts, ErrorCode | None]) -> None:
    root, code = case
    scenario = small()
    result = scenario.run(scenario.create_session(root=root))
    if code is None:
        assert result.unwrap().events[0].session.root_path == root.resolved
    else:
        assert_refused(result.failure(), code, "root_path")


# -- duplicates and limits ------------------------------------------------------


def test_session_names_are_unique_per_principal_only() -> None:
    scenario = small()
    scenario.session("proj")
    assert_refused(scenario.fail(scenario.create_session("proj")), ErrorCode.NAME_TAKEN, "'proj'")
    assert isinstance(scenario.run(scenario.create_session("proj", principal=BOB)), Success)


def test_agent_names_are_unique_per_session_only() -> None:
    scenario = small()
    first, second = scenario.session("one"), scenario.session("two")
    scenario.agent(first, "dev")
    error = scenario.fail(scenario.create_agent(first, "dev"))
    assert_refused(error, ErrorCode.NAME_TAKEN, "'dev'", first)
    assert isinstance(scenario.run(scenario.create_agent(second, "dev")), Success)


def test_session_limit_names_the_setting_and_counts_per_principal() -> None:
    scenario = small()
    made = [scenario.session(f"s{i}") for i in range(SMALL_LIMITS.max_sessions_per_principal)]
    error = scenario.fail(scenario.create_session("one-more"))
    assert_refused(error, LIMIT, "limits.max_sessions_per_principal", "3")
    assert isinstance(scenario.run(scenario.create_session("one-more", principal=BOB)), Success)
    scenario.ok(DeleteSession(principal=ALICE, session_id=made[0], force=False))
    assert isinstance(scenario.run(scenario.create_session("one-more")), Success)


def test_agent_limit_names_the_setting_and_counts_per_session() -> None:
    scenario = small()
    session, other = scenario.session("one"), scenario.session("two")
    agents = [scenario.agent(session, f"a{i}") for i in range(SMALL_LIMITS.max_agents_per_session)]
    error = scenario.fail(scenario.create_agent(session, "extra"))
    assert_refused(error, LIMIT, "limits.max_agents_per_session", "3")
    assert isinstance(scenario.run(scenario.create_agent(other, "extra")), Success)
    scenario.ok(DeleteAgent(principal=ALICE, agent_id=agents[0]))
    assert isinstance(scenario.run(scenario.create_agent(session, "extra")), Success)


# -- busy -------------------------------------------------------------------------


def test_a_busy_agent_refuses_send_clear_and_start_new() -> None:
    scenario, agent = with_agent()
    turn = scenario.send(agent)
    for command in (
        scenario.send_message(agent, "again"),
        scenario.clear(agent),
        scenario.start_new(agent),
        scenario.start_new(agent, "fresh start"),
    ):
        error = scenario.fail(command)
        assert_refused(error, ErrorCode.AGENT_BUSY, agent, turn)
    scenario.end(turn)
    assert isinstance(scenario.run(scenario.send_message(agent, "again")), Success)


def test_an_invalid_message_to_a_busy_agent_reports_the_message() -> None:
    """Input errors come before state errors: fixing the input is the first step."""
    scenario, agent = with_agent()
    scenario.send(agent)
    assert_refused(scenario.fail(scenario.send_message(agent, "")), INVALID, "message")


def test_deleting_a_session_with_running_turns_needs_force() -> None:
    scenario = small()
    session = scenario.session()
    busy = [scenario.agent(session, name) for name in ("one", "two")]
    scenario.agent(session, "idle")
    turns = [scenario.send(agent) for agent in busy]

    error = scenario.fail(DeleteSession(principal=ALICE, session_id=session, force=False))
    assert_refused(error, ErrorCode.SESSION_BUSY, "2 turn(s)", session, "force")

    decision = scenario.ok(DeleteSession(principal=ALICE, session_id=session, force=True))
    assert set(decision.effects) == {StopTurn(turn_id=t) for t in turns}
    assert len(decision.effects) == 2
    assert session not in scenario.state.sessions
    assert not scenario.state.agents
    assert not scenario.state.turns


def test_deleting_an_idle_session_needs_no_force_and_stops_nothing() -> None:
    scenario = small()
    session = scenario.session()
    turn = scenario.send(scenario.agent(session))
    scenario.end(turn, TurnStatus.FAILED)
    decision = scenario.ok(DeleteSession(principal=ALICE, session_id=session, force=False))
    assert decision.effects == ()


def test_deleting_a_running_agent_stops_its_turn() -> None:
    scenario, agent = with_agent()
    turn = scenario.send(agent)
    decision = scenario.ok(DeleteAgent(principal=ALICE, agent_id=agent))
    assert decision.effects == (StopTurn(turn_id=turn),)
    assert turn not in scenario.state.turns


def test_an_unknown_session_is_reported_before_bad_agent_input() -> None:
    """NOT_FOUND first: input checks against a session that is not there mean nothing."""
    scenario = small()
    result = decide(
        scenario.state, scenario.create_agent("ses_0123456789abcdef", "Bad Name"), SMALL_POLICY
    )
    assert isinstance(result, Failure)
    assert result.failure().code is ErrorCode.NOT_FOUND
