"""The closed set of errors a caller can cause, and their safe messages.

Every expected failure in orch is an :class:`OrchError` inside a ``returns``
``Failure``. The ``code`` is stable (clients match on it); ``message`` is safe to
show to a user and says what to do; ``detail`` is for the server log only and
never leaves the process.

>>> str(OrchError(code=ErrorCode.NOT_FOUND, message="no agent agt_1"))
'NOT_FOUND: no agent agt_1'
"""

from __future__ import annotations

import enum

from attrs import field, frozen
from attrs.validators import and_, instance_of, min_len


class ErrorCode(enum.StrEnum):
    """Stable error codes; see contracts.md for when each is returned."""

    UNAUTHENTICATED = "UNAUTHENTICATED"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    NOT_FOUND = "NOT_FOUND"
    NAME_TAKEN = "NAME_TAKEN"
    PATH_NOT_ALLOWED = "PATH_NOT_ALLOWED"
    LIMIT_EXCEEDED = "LIMIT_EXCEEDED"
    RATE_LIMITED = "RATE_LIMITED"
    AGENT_BUSY = "AGENT_BUSY"
    SESSION_BUSY = "SESSION_BUSY"
    TURN_FAILED = "TURN_FAILED"
    TURN_TIMEOUT = "TURN_TIMEOUT"
    UNAVAILABLE = "UNAVAILABLE"
    INTERNAL = "INTERNAL"


@frozen(kw_only=True)
class OrchError:
    """An expected failure: a stable code, a user-safe message, private detail."""

    code: ErrorCode = field(validator=instance_of(ErrorCode))
    message: str = field(validator=and_(instance_of(str), min_len(1)))
    detail: str | None = None

    def __str__(self) -> str:
        return f"{self.code.value}: {self.message}"


def invalid(message: str) -> OrchError:
    """An ``INVALID_ARGUMENT`` error."""
    return OrchError(code=ErrorCode.INVALID_ARGUMENT, message=message)


def not_found(kind: str, ident: str) -> OrchError:
    """A ``NOT_FOUND`` error that names what was looked for.

    The same text is used whether the thing never existed, was deleted, or
    belongs to someone else, so existence does not leak across owners.
    """
    return OrchError(
        code=ErrorCode.NOT_FOUND,
        message=f"no {kind} with id {ident!r}; list_sessions and get_session_status show "
        "the ids that exist",
    )
