"""The one entry point for changing state: ``decide(state, command, policy)``.

``decide`` never changes anything; it returns the events to record and the
effects the shell must perform, or the reason nothing may happen. Contracts
state what must hold when the code is right: a violated contract is a bug, not
a user error, and is reported as ``INTERNAL`` with the detail kept private.
"""

from __future__ import annotations

import icontract
from returns.result import Result, Success

from ._commands import (
    CancelTurn,
    ClearConversation,
    Command,
    CreateAgent,
    CreateSession,
    Decision,
    DeleteAgent,
    DeleteSession,
    EndTurn,
    RecordProcess,
    SendMessage,
    StartNewConversation,
    StopTurn,
)
from ._decide_structure import create_agent, create_session, delete_agent, delete_session
from ._decide_turns import (
    cancel_turn,
    clear_conversation,
    end_turn,
    record_process,
    send_message,
    start_new_conversation,
)
from ._errors import OrchError
from ._events import TurnStarted
from ._evolve import replay
from ._lifecycle import TurnStatus
from ._model import State, check_invariants
from ._rules import Policy


class _ExpensiveContracts:
    """Whole-state invariant checks cost O(state) per call: on in tests, off in service."""

    enabled = False


def enable_expensive_contracts(enabled: bool = True) -> None:
    """Check every state invariant before and after each ``decide`` (for tests)."""
    _ExpensiveContracts.enabled = enabled


def _keeps_invariants(state: State, result: Result[Decision, OrchError]) -> bool:
    if not _ExpensiveContracts.enabled or not isinstance(result, Success):
        return True
    return not check_invariants(replay(result.unwrap().events, state))


def _effects_match(state: State, result: Result[Decision, OrchError]) -> bool:
    """Stops name running turns; starts name turns this decision starts."""
    if not isinstance(result, Success):
        return True
    decision = result.unwrap()
    started = {e.turn.id for e in decision.events if isinstance(e, TurnStarted)}
    for effect in decision.effects:
        if isinstance(effect, StopTurn):
            turn = state.turns.get(effect.turn_id)
            if turn is None or turn.status is not TurnStatus.RUNNING:
                return False
        elif effect.turn_id not in started:
            return False
    return True


@icontract.require(
    lambda state: not _ExpensiveContracts.enabled or not check_invariants(state),
    "the state is consistent",
)
@icontract.ensure(
    _keeps_invariants,
    "a decision's events keep the state consistent",
)
@icontract.ensure(
    _effects_match,
    "every StopTurn names a running turn; every StartTurn a turn started by this decision",
)
def decide(  # noqa: PLR0911 - one return per kind of command reads as the table it is
    state: State, command: Command, policy: Policy
) -> Result[Decision, OrchError]:
    """What ``command`` does to ``state``: a :class:`Decision`, or why it may not."""
    match command:
        case CreateSession():
            return create_session(state, command, policy)
        case DeleteSession():
            return delete_session(state, command)
        case CreateAgent():
            return create_agent(state, command, policy)
        case DeleteAgent():
            return delete_agent(state, command)
        case SendMessage():
            return send_message(state, command, policy)
        case ClearConversation():
            return clear_conversation(state, command)
        case StartNewConversation():
            return start_new_conversation(state, command, policy)
        case RecordProcess():
            return record_process(state, command)
        case EndTurn():
            return end_turn(state, command)
        case CancelTurn():
            return cancel_turn(state, command)
