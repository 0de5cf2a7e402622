"""Concurrency caps: turns running at once, in total and per principal, and the
number of agents on the server. Over a cap a turn is refused, naming the cap and
how many run; it is never queued, and a finished turn makes room again."""

from __future__ import annotations

import attrs

from orch_core import ADMIN_SCOPE, ErrorCode, Limits, Principal, TurnId, running_turns
from tests.core.scenario import Scenario
from tests.strategies import ALICE, BOB, SMALL_POLICY

CAPS = Limits(max_running_turns=3, max_running_turns_per_principal=2, max_agents_per_session=8)
POLICY = attrs.evolve(SMALL_POLICY, limits=CAPS)


def agents_of(scenario: Scenario, principal: Principal, count: int) -> list[str]:
    session = scenario.session(f"s-{principal.subject}", principal=principal)
    agents = []
    for number in range(count):
        command = scenario.create_agent(session, f"a{number}", principal=principal)
        scenario.ok(command)
        agents.append(command.new_id)
    return agents


def send(scenario: Scenario, agent_id: str, principal: Principal) -> TurnId:
    command = scenario.send_message(agent_id, principal=principal)
    scenario.ok(command)
    return command.new_turn_id


def test_the_per_principal_cap_names_itself_and_counts_the_running_turns() -> None:
    scenario = Scenario(policy=POLICY, principal=ALICE)
    first, second, third = agents_of(scenario, ALICE, 3)
    send(scenario, first, ALICE)
    send(scenario, second, ALICE)
    refused = scenario.fail(scenario.send_message(third, principal=ALICE))
    assert refused.code is ErrorCode.LIMIT_EXCEEDED
    assert refused.message.startswith(
        "2 turns are running in your sessions; the limit is 2 "
        "(limits.max_running_turns_per_principal); retry when one of them has finished"
    )
    # start-new with a first message starts a turn too; without one it does not.
    assert scenario.fail(scenario.start_new(third, "go", principal=ALICE)).code is (
        ErrorCode.LIMIT_EXCEEDED
    )
    scenario.ok(scenario.start_new(third, principal=ALICE))


def test_the_total_cap_holds_across_principals_and_frees_up_when_a_turn_ends() -> None:
    scenario = Scenario(policy=POLICY, principal=ALICE)
    alices = agents_of(scenario, ALICE, 2)
    bobs = agents_of(scenario, BOB, 2)
    first = send(scenario, alices[0], ALICE)
    send(scenario, alices[1], ALICE)
    send(scenario, bobs[0], BOB)
    assert running_turns(scenario.state, BOB.subject) == (3, 1)
    refused = scenario.fail(scenario.send_message(bobs[1], principal=BOB))
    assert refused.code is ErrorCode.LIMIT_EXCEEDED
    assert refused.message.startswith(
        "3 turns are running on this server; the limit is 3 (limits.max_running_turns)"
    )
    scenario.end(first)
    send(scenario, bobs[1], BOB)
    assert running_turns(scenario.state, ALICE.subject) == (3, 1)


def test_a_turn_counts_for_the_session_owner_even_when_an_admin_sends_it() -> None:
    admin = Principal(subject="root", scopes=frozenset({ADMIN_SCOPE}))
    scenario = Scenario(policy=POLICY, principal=ALICE)
    alices = agents_of(scenario, ALICE, 3)
    send(scenario, alices[0], admin)
    send(scenario, alices[1], admin)
    assert running_turns(scenario.state, ALICE.subject) == (2, 2)
    assert running_turns(scenario.state, admin.subject) == (2, 0)
    refused = scenario.fail(scenario.send_message(alices[2], principal=admin))
    assert "limits.max_running_turns_per_principal" in refused.message


def test_a_busy_agent_is_reported_before_a_full_server() -> None:
    scenario = Scenario(policy=POLICY, principal=ALICE)
    first, second, _ = agents_of(scenario, ALICE, 3)
    send(scenario, first, ALICE)
    send(scenario, second, ALICE)
    assert scenario.fail(scenario.send_message(first, principal=ALICE)).code is (
        ErrorCode.AGENT_BUSY
    )


def test_agents_in_total_are_capped_across_principals() -> None:
    limits = attrs.evolve(CAPS, max_agents_total=3)
    scenario = Scenario(policy=attrs.evolve(POLICY, limits=limits), principal=ALICE)
    agents_of(scenario, ALICE, 2)
    bob_session = scenario.session("b", principal=BOB)
    scenario.ok(scenario.create_agent(bob_session, "b0", principal=BOB))
    refused = scenario.fail(scenario.create_agent(bob_session, "b1", principal=BOB))
    assert refused.code is ErrorCode.LIMIT_EXCEEDED
    assert refused.message == (
        "this server has 3 agents; the limit is 3 (limits.max_agents_total); "
        "delete agents you no longer need"
    )
