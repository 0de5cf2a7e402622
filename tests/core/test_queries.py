"""What ``get_session_status``, ``list_sessions`` and the transcripts show a user."""

from __future__ import annotations

import pytest
from returns.result import Failure, Success

from orch_core import (
    AgentState,
    AgentView,
    DeleteSession,
    ErrorCode,
    LiveActivity,
    Principal,
    SessionView,
    TurnStatus,
    Usage,
    conversation_transcript,
    deleted_view,
    iso,
    list_sessions,
    session_status,
    transcript,
)
from tests.core.scenario import Scenario
from tests.strategies import ALICE, BOB, SMALL_POLICY

ADMIN = Principal(subject="root", scopes={"orch:admin"})


def status(scenario: Scenario, session_id: str, **live: LiveActivity) -> SessionView:
    result = session_status(scenario.state, ALICE, session_id, now=scenario.clock.now, live=live)
    assert isinstance(result, Success), result
    return result.unwrap()


def only_agent(view: SessionView) -> AgentView:
    (agent,) = view.agents
    return agent


def new() -> Scenario:
    return Scenario(policy=SMALL_POLICY, principal=ALICE)


def test_a_new_session_shows_an_idle_agent_with_nothing_yet() -> None:
    scenario = new()
    session = scenario.session("proj")
    agent = scenario.agent(session, "dev", role="reviews code")
    view = status(scenario, session)
    assert (view.session_id, view.name, view.root_path) == (session, "proj", "/srv/orch/proj")
    shown = only_agent(view)
    assert (shown.agent_id, shown.name, shown.role) == (agent, "dev", "reviews code")
    assert shown.state is AgentState.IDLE
    assert shown.current_turn is None
    assert shown.last_reply is None
    assert shown.archived_conversations == []
    assert shown.conversation.turns == 0
    assert shown.totals.turns == 0
    assert view.created_at == iso(scenario.clock.now)


def test_current_turn_shows_elapsed_time_from_now_and_live_activity() -> None:
    scenario = new()
    session = scenario.session()
    turn = scenario.send(scenario.agent(session))
    started = scenario.clock.now
    scenario.clock.advance(12.3456)
    activity = LiveActivity(description="Bash: pytest", at=started + 10, tool_uses=3)
    shown = only_agent(status(scenario, session, **{turn: activity}))
    assert shown.state is AgentState.RUNNING
    current = shown.current_turn
    assert current is not None
    assert current.turn_id == turn
    assert current.number == 1
    assert current.elapsed_seconds == 12.346
    assert current.started_at == iso(started)
    assert (current.last_activity, current.tool_uses) == ("Bash: pytest", 3)
    assert current.last_activity_at == iso(started + 10)


def test_current_turn_without_live_activity() -> None:
    scenario = new()
    session = scenario.session()
    scenario.send(scenario.agent(session))
    current = only_agent(status(scenario, session)).current_turn
    assert current is not None
    assert (current.elapsed_seconds, current.last_activity, current.tool_uses) == (0.0, None, 0)


def test_last_reply_is_the_previous_finished_turn_while_one_runs() -> None:
    scenario = new()
    session = scenario.session()
    agent = scenario.agent(session)
    first = scenario.send(agent)
    scenario.end(first, reply="first answer", cost_usd=0.5)
    second = scenario.send(agent, "and now?")
    shown = only_agent(status(scenario, session))
    assert shown.current_turn is not None
    assert shown.current_turn.turn_id == second
    assert shown.current_turn.number == 2
    assert shown.last_reply is not None
    assert (shown.last_reply.turn_id, shown.last_reply.reply) == (first, "first answer")
    assert shown.last_reply.status is TurnStatus.COMPLETED

    scenario.end(second, TurnStatus.FAILED, reply=None)
    shown = only_agent(status(scenario, session))
    assert shown.current_turn is None
    assert shown.last_reply is not None
    assert (shown.last_reply.turn_id, shown.last_reply.status) == (second, TurnStatus.FAILED)


def test_last_reply_stays_the_archived_turn_while_the_new_conversation_runs() -> None:
    """Starting a new conversation keeps the last reply visible (clearing drops it);
    sending the first message of the new conversation must not make it vanish."""
    scenario = new()
    session = scenario.session()
    agent = scenario.agent(session)
    first = scenario.send(agent)
    scenario.end(first, reply="before the archive")
    scenario.ok(scenario.start_new(agent))
    shown = only_agent(status(scenario, session))
    assert shown.last_reply is not None
    assert shown.last_reply.turn_id == first

    scenario.send(agent, "a fresh question")
    shown = only_agent(status(scenario, session))
    assert shown.last_reply is not None, "the last reply vanished while a turn runs"
    assert shown.last_reply.turn_id == first


def test_clearing_forgets_the_last_reply_and_the_transcript_but_not_the_totals() -> None:
    scenario = new()
    session = scenario.session()
    agent = scenario.agent(session)
    other = scenario.agent(session, "other")
    first = scenario.send(agent)
    scenario.end(first, cost_usd=0.5, usage=Usage(input_tokens=10, output_tokens=3))
    old_conversation = scenario.state.agents[agent].conversation_id
    scenario.ok(scenario.clear(agent))
    assert only_agent_named(status(scenario, session), "dev").last_reply is None
    assert isinstance(conversation_transcript(scenario.state, ALICE, old_conversation), Failure)
    second = scenario.send(agent)
    scenario.end(second, cost_usd=0.25, usage=Usage(input_tokens=5, cache_read_input_tokens=7))
    third = scenario.send(other)
    scenario.end(third, TurnStatus.TIMEOUT, cost_usd=1.0, usage=Usage(output_tokens=1))

    view = status(scenario, session)
    mine = only_agent_named(view, "dev")
    assert mine.totals.turns == 2
    assert mine.totals.cost_usd == 0.75
    assert mine.totals.tokens.input_tokens == 15
    assert mine.totals.tokens.output_tokens == 3
    assert mine.totals.tokens.cache_read_input_tokens == 7
    assert mine.conversation.turns == 1
    assert view.totals.turns == 3
    assert view.totals.cost_usd == 1.75
    assert view.totals.tokens.output_tokens == 4


def only_agent_named(view: SessionView, name: str) -> AgentView:
    (agent,) = [a for a in view.agents if a.name == name]
    return agent


def test_start_new_lists_the_archived_conversation_and_keeps_its_transcript() -> None:
    scenario = new()
    session = scenario.session()
    agent = scenario.agent(session)
    old = scenario.state.agents[agent].conversation_id
    for text in ("one", "two"):
        scenario.end(scenario.send(agent, text), reply=f"re: {text}", claude_session_id="c-1")
    scenario.clock.advance(60)
    command = scenario.start_new(agent, "three")
    decision = scenario.ok(command)
    (start,) = decision.effects
    assert start.resume_id is None  # a new conversation does not resume the old one

    shown = only_agent(status(scenario, session))
    assert [c.conversation_id for c in shown.archived_conversations] == [old]
    archived = shown.archived_conversations[0]
    assert (archived.turns, archived.archived_at) == (2, iso(scenario.clock.now))
    assert shown.conversation.conversation_id == command.new_conversation_id
    assert shown.current_turn is not None
    assert shown.current_turn.number == 1

    current = transcript(scenario.state, ALICE, agent).unwrap()
    assert current.conversation_id == command.new_conversation_id
    assert current.status == "active"
    assert [(t.number, t.message, t.status) for t in current.turns] == [
        (1, "three", TurnStatus.RUNNING)
    ]
    past = conversation_transcript(scenario.state, ALICE, old).unwrap()
    assert past.status == "archived"
    assert [(t.number, t.message, t.reply) for t in past.turns] == [
        (1, "one", "re: one"),
        (2, "two", "re: two"),
    ]


def test_a_continued_conversation_resumes_the_latest_claude_session() -> None:
    scenario = new()
    agent = scenario.agent(scenario.session())
    scenario.end(scenario.send(agent), claude_session_id="c-1")
    scenario.end(scenario.send(agent), claude_session_id="c-2")
    scenario.end(scenario.send(agent), TurnStatus.FAILED, claude_session_id="c-3")
    (start,) = scenario.ok(scenario.send_message(agent)).effects
    assert start.resume_id == "c-2"  # a failed turn's id is not trusted


def test_list_sessions_counts_agents_and_running_ones_oldest_first() -> None:
    scenario = new()
    first = scenario.session("first")
    scenario.clock.advance(1)
    second = scenario.session("second")
    busy = scenario.agent(first, "a")
    scenario.agent(first, "b")
    scenario.send(busy)
    scenario.session("bobs", principal=BOB)
    listed = list_sessions(scenario.state, ALICE)
    assert [(s.session_id, s.agent_count, s.agents_running) for s in listed] == [
        (first, 2, 1),
        (second, 0, 0),
    ]
    assert [s.name for s in list_sessions(scenario.state, BOB)] == ["bobs"]
    assert list_sessions(scenario.state, Principal(subject="carol")) == []


def test_another_principal_sees_nothing_and_an_admin_sees_everything() -> None:
    scenario = new()
    session = scenario.session()
    agent = scenario.agent(session)
    conversation = scenario.state.agents[agent].conversation_id
    now, live = scenario.clock.now, {}
    queries = {
        "session": lambda who: session_status(scenario.state, who, session, now=now, live=live),
        "agent": lambda who: transcript(scenario.state, who, agent),
        "conversation": lambda who: conversation_transcript(scenario.state, who, conversation),
    }
    never = {
        "session": session_status(scenario.state, BOB, "ses_00000000000000ff", now=now, live=live),
        "agent": transcript(scenario.state, BOB, "agt_00000000000000ff"),
        "conversation": conversation_transcript(scenario.state, BOB, "cnv_00000000000000ff"),
    }
    ghosts = {
        "session": "ses_00000000000000ff",
        "agent": "agt_00000000000000ff",
        "conversation": "cnv_00000000000000ff",
    }
    real = {"session": session, "agent": agent, "conversation": conversation}
    for kind, query in queries.items():
        hidden = query(BOB)
        assert isinstance(hidden, Failure), kind
        assert hidden.failure().code is ErrorCode.NOT_FOUND
        # Same words as for an id that never existed: existence does not leak.
        assert hidden.failure().message.replace(real[kind], "<id>") == never[
            kind
        ].failure().message.replace(ghosts[kind], "<id>")
        assert isinstance(query(ADMIN), Success), kind
        assert isinstance(query(ALICE), Success), kind


def test_admins_list_only_their_own_sessions() -> None:
    scenario = new()
    scenario.session()
    assert list_sessions(scenario.state, ADMIN) == []


@pytest.mark.parametrize("force", [False, True])
def test_deleted_view_names_what_a_delete_removes(force: bool) -> None:
    scenario = new()
    session = scenario.session()
    one, two = scenario.agent(session, "one"), scenario.agent(session, "two")
    turns = [scenario.send(one)] if force else []
    before = scenario.state
    decision = scenario.ok(DeleteSession(principal=ALICE, session_id=session, force=force))
    view = deleted_view(decision, before)
    assert view.deleted_session_ids == [session]
    assert view.deleted_agent_ids == [one, two]
    assert view.cancelled_turn_ids == turns
