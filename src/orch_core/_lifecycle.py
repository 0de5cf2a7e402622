"""Turn and agent lifecycles, as data.

Theory of operation
-------------------
An agent is ``idle`` or ``running``; it is running exactly while one of its turns
is ``running``. A turn starts ``running`` when a message is accepted (before the
``claude`` process exists: the process id is recorded a moment later) and ends in
exactly one final state:

* ``completed`` - the CLI's ``result`` event said ``is_error: false``;
* ``failed`` - an error result, a non-zero exit, no result at all, or output over
  a limit;
* ``timeout`` - the per-turn timeout expired and the process group was killed;
* ``cancelled`` - orch stopped it on purpose (shutdown, a forced delete);
* ``interrupted`` - the server died while it ran; found at the next start.

Final states are final: the table below is the only place a transition is
allowed, and :func:`can_transition` is the only check. An illegal transition is a
caller's mistake (``INVALID_ARGUMENT``), never silently applied.

>>> can_transition(TurnStatus.RUNNING, TurnStatus.COMPLETED)
True
>>> can_transition(TurnStatus.COMPLETED, TurnStatus.RUNNING)
False
"""

from __future__ import annotations

import enum
from collections.abc import Mapping


class TurnStatus(enum.StrEnum):
    """Where a turn is in its life."""

    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"


class AgentState(enum.StrEnum):
    """Whether an agent has a turn in flight."""

    IDLE = "idle"
    RUNNING = "running"


class ConversationStatus(enum.StrEnum):
    """An agent has one active conversation and any number of archived ones."""

    ACTIVE = "active"
    ARCHIVED = "archived"


FINAL_TURN_STATUSES: frozenset[TurnStatus] = frozenset(TurnStatus) - {TurnStatus.RUNNING}

#: from -> the states it may move to. A turn is created ``running``.
TURN_TRANSITIONS: Mapping[TurnStatus, frozenset[TurnStatus]] = {
    TurnStatus.RUNNING: FINAL_TURN_STATUSES,
    TurnStatus.COMPLETED: frozenset(),
    TurnStatus.FAILED: frozenset(),
    TurnStatus.TIMEOUT: frozenset(),
    TurnStatus.CANCELLED: frozenset(),
    TurnStatus.INTERRUPTED: frozenset(),
}

#: The agent state implied by whether it has a running turn.
AGENT_STATE_WHEN_TURN_RUNNING: Mapping[bool, AgentState] = {
    True: AgentState.RUNNING,
    False: AgentState.IDLE,
}


def can_transition(current: TurnStatus, target: TurnStatus) -> bool:
    """Whether a turn in ``current`` may move to ``target``."""
    return target in TURN_TRANSITIONS[current]
