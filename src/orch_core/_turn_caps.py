"""How many turns may run at once: in total, and in one principal's sessions.

A turn is a ``claude`` process with its children, so running turns are what
exhausts a machine. Over a cap, a new turn is refused with ``LIMIT_EXCEEDED``
naming the cap and how many are running; it is never queued silently (a queued
turn would look running to the orchestrating model without being so).

The counts come from the state, i.e. from the store's running turns, so they
are right after a restart too. A turn counts for the owner of its session:
that is who the turn works for, whoever (an admin, say) sent the message.

>>> from ._limits import Limits
>>> room_to_run(State(), "alice", Limits()).unwrap() is None
True
"""

from __future__ import annotations

from returns.result import Failure, Result, Success

from ._errors import ErrorCode, OrchError
from ._limits import Limits
from ._model import State


def running_turns(state: State, owner: str) -> tuple[int, int]:
    """Turns running now: in total, and in ``owner``'s sessions."""
    total = mine = 0
    for agent in state.agents.values():
        if agent.running_turn_id is not None:
            total += 1
            if state.sessions[agent.session_id].owner == owner:
                mine += 1
    return total, mine


def room_to_run(state: State, owner: str, limits: Limits) -> Result[None, OrchError]:
    """``Success`` if one more turn for ``owner``'s sessions stays within both caps."""
    total, mine = running_turns(state, owner)
    retry = "; retry when one of them has finished (get_session_status shows which run)"
    if total >= limits.max_running_turns:
        return Failure(
            OrchError(
                code=ErrorCode.LIMIT_EXCEEDED,
                message=f"{total} turns are running on this server; the limit is "
                f"{limits.max_running_turns} (limits.max_running_turns){retry}",
            )
        )
    if mine >= limits.max_running_turns_per_principal:
        return Failure(
            OrchError(
                code=ErrorCode.LIMIT_EXCEEDED,
                message=f"{mine} turns are running in your sessions; the limit is "
                f"{limits.max_running_turns_per_principal} "
                f"(limits.max_running_turns_per_principal){retry}",
            )
        )
    return Success(None)
