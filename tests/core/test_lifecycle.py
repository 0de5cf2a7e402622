"""The turn lifecycle table, and that ``decide`` obeys it and nothing else."""

from __future__ import annotations

import itertools

import pytest
from returns.result import Success

from orch_core import (
    FINAL_TURN_STATUSES,
    TURN_TRANSITIONS,
    AgentId,
    CancelTurn,
    EndTurn,
    ErrorCode,
    ProcessInfo,
    RecordProcess,
    StopTurn,
    TurnId,
    TurnOutcome,
    TurnStatus,
    can_transition,
)
from tests.core.scenario import Scenario
from tests.strategies import ALICE, FINAL_STATUSES, SMALL_POLICY


def test_the_table_covers_every_status() -> None:
    assert set(TURN_TRANSITIONS) == set(TurnStatus)
    assert frozenset(TurnStatus) - {TurnStatus.RUNNING} == FINAL_TURN_STATUSES
    assert set(FINAL_STATUSES) == FINAL_TURN_STATUSES


@pytest.mark.parametrize("status", sorted(FINAL_TURN_STATUSES))
def test_every_final_state_is_final(status: TurnStatus) -> None:
    assert TURN_TRANSITIONS[status] == frozenset()
    assert not any(can_transition(status, target) for target in TurnStatus)


@pytest.mark.parametrize("status", sorted(FINAL_TURN_STATUSES))
def test_running_goes_to_each_final_state(status: TurnStatus) -> None:
    assert can_transition(TurnStatus.RUNNING, status)


def test_running_does_not_go_to_running() -> None:
    assert not can_transition(TurnStatus.RUNNING, TurnStatus.RUNNING)


@pytest.mark.parametrize(("current", "target"), list(itertools.product(TurnStatus, TurnStatus)))
def test_can_transition_is_the_table(current: TurnStatus, target: TurnStatus) -> None:
    assert can_transition(current, target) is (target in TURN_TRANSITIONS[current])


def running_turn() -> tuple[Scenario, AgentId, TurnId]:
    scenario = Scenario(policy=SMALL_POLICY, principal=ALICE)
    agent = scenario.agent(scenario.session())
    return scenario, agent, scenario.send(agent)


@pytest.mark.parametrize("status", sorted(FINAL_TURN_STATUSES))
def test_end_turn_moves_a_running_turn_to_its_final_state(status: TurnStatus) -> None:
    scenario, agent, turn = running_turn()
    scenario.clock.advance(2.5)
    scenario.end(turn, status, reply=None)
    ended = scenario.state.turns[turn]
    assert ended.status is status
    assert ended.finished_at == scenario.clock.now
    assert scenario.state.agents[agent].running_turn_id is None


@pytest.mark.parametrize(("first", "second"), list(itertools.product(FINAL_STATUSES, TurnStatus)))
def test_end_turn_on_an_ended_turn_fails(first: TurnStatus, second: TurnStatus) -> None:
    scenario, _, turn = running_turn()
    scenario.end(turn, first)
    error = scenario.fail(
        EndTurn(turn_id=turn, now=scenario.clock.now, outcome=TurnOutcome(status=second))
    )
    assert error.code is ErrorCode.INVALID_ARGUMENT
    assert turn in error.message
    assert first.value in error.message  # says where the turn already is
    assert scenario.state.turns[turn].status is first


def test_end_turn_to_running_is_refused() -> None:
    scenario, agent, turn = running_turn()
    error = scenario.fail(
        EndTurn(turn_id=turn, now=0.0, outcome=TurnOutcome(status=TurnStatus.RUNNING))
    )
    assert error.code is ErrorCode.INVALID_ARGUMENT
    assert scenario.state.agents[agent].running_turn_id == turn


def test_process_can_be_recorded_only_while_running() -> None:
    scenario, _, turn = running_turn()
    process = ProcessInfo(pid=42, pgid=42, start_time=1.0)
    assert isinstance(scenario.run(RecordProcess(turn_id=turn, process=process)), Success)
    assert scenario.state.turns[turn].process == process
    scenario.end(turn, TurnStatus.CANCELLED)
    error = scenario.fail(RecordProcess(turn_id=turn, process=process))
    assert error.code is ErrorCode.INVALID_ARGUMENT


def test_end_turn_on_an_unknown_turn_is_not_found() -> None:
    scenario, _, _ = running_turn()
    error = scenario.fail(
        EndTurn(
            turn_id=TurnId("trn_00000000deadbeef"),
            now=0.0,
            outcome=TurnOutcome(status=TurnStatus.FAILED),
        )
    )
    assert error.code is ErrorCode.NOT_FOUND


def test_cancel_turn_stops_the_process_group_and_records_the_reason() -> None:
    scenario, agent, turn = running_turn()
    scenario.clock.advance(1.5)
    decision = scenario.run(CancelTurn(turn_id=turn, now=scenario.clock.now, reason="stop"))
    assert decision.unwrap().effects == (StopTurn(turn_id=turn),)
    cancelled = scenario.state.turns[turn]
    assert (cancelled.status, cancelled.error) == (TurnStatus.CANCELLED, "stop")
    assert cancelled.finished_at == scenario.clock.now
    assert scenario.state.agents[agent].running_turn_id is None


@pytest.mark.parametrize("status", FINAL_STATUSES)
def test_cancel_turn_leaves_an_ended_turn_as_it_ended(status: TurnStatus) -> None:
    scenario, _, turn = running_turn()
    scenario.end(turn, status)
    error = scenario.fail(CancelTurn(turn_id=turn, now=scenario.clock.now, reason="stop"))
    assert error.code is ErrorCode.INVALID_ARGUMENT
    assert scenario.state.turns[turn].status is status
