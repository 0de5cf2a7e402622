"""What a caller may do: scopes, the action → scope table, and the one check.

A token carries scopes (``scope``: space separated, or ``scp``: a list). Each
tool needs one scope, looked up in a table the security policy may override;
``start_new_agent_conversation`` with an initial message also needs the scope of
``send_message_to_agent``, because it sends that message. ``orch:admin`` may do
anything, including acting on other subjects' sessions (see ``_access``).

>>> authorize(Principal(subject="ann", scopes={SESSIONS_READ}), "list_sessions").unwrap().subject
'ann'
>>> print(authorize(Principal(subject="ann"), "create_session").failure())
PERMISSION_DENIED: create_session needs the scope 'sessions:write', which your token does not grant
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from types import MappingProxyType
from typing import Final

from returns.result import Failure, Result, Success

from ._errors import ErrorCode, OrchError
from ._model import ADMIN_SCOPE, Principal

SESSIONS_READ: Final = "sessions:read"
SESSIONS_WRITE: Final = "sessions:write"
AGENTS_WRITE: Final = "agents:write"
AGENTS_MESSAGE: Final = "agents:message"
METRICS_READ: Final = "metrics:read"

ALL_SCOPES: Final = (
    SESSIONS_READ,
    SESSIONS_WRITE,
    AGENTS_WRITE,
    AGENTS_MESSAGE,
    METRICS_READ,
    ADMIN_SCOPE,
)
"""Every scope orch knows; ``orch init``'s local token holds all of them."""

READ_RESOURCE: Final = "read_resource"
"""The action of reading an ``orch://`` resource (the transcripts)."""

READ_METRICS: Final = "read_metrics"
"""The action of reading the server's metrics or health in detail (``orch://metrics``,
``orch://health``, ``GET /metrics``). Its own scope, not ``sessions:read``: the
numbers cover every subject's sessions, and a scraper's token should be able to
read them and nothing else."""

SEND_MESSAGE: Final = "send_message_to_agent"
START_NEW_CONVERSATION: Final = "start_new_agent_conversation"

DEFAULT_ACTION_SCOPES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "create_session": SESSIONS_WRITE,
        "delete_session": SESSIONS_WRITE,
        "get_session_status": SESSIONS_READ,
        "list_sessions": SESSIONS_READ,
        READ_RESOURCE: SESSIONS_READ,
        READ_METRICS: METRICS_READ,
        "create_agent": AGENTS_WRITE,
        "delete_agent": AGENTS_WRITE,
        "clear_agent_conversation": AGENTS_WRITE,
        START_NEW_CONVERSATION: AGENTS_WRITE,
        SEND_MESSAGE: AGENTS_MESSAGE,
    }
)
"""Each action (a tool name, or ``read_resource``) and the scope it needs."""


def required_scopes(
    action: str,
    *,
    with_message: bool = False,
    table: Mapping[str, str] = DEFAULT_ACTION_SCOPES,
) -> tuple[str, ...]:
    """The scopes ``action`` needs; an action missing from the table needs admin.

    >>> required_scopes("start_new_agent_conversation", with_message=True)
    ('agents:write', 'agents:message')
    >>> required_scopes("no_such_tool")
    ('orch:admin',)
    """
    scope = table.get(action)
    if scope is None:
        return (ADMIN_SCOPE,)  # fail closed: a tool nobody mapped is not open to all
    if action == START_NEW_CONVERSATION and with_message:
        return tuple(dict.fromkeys((scope, table.get(SEND_MESSAGE, ADMIN_SCOPE))))
    return (scope,)


def missing_scope(
    granted: Collection[str],
    action: str,
    *,
    with_message: bool = False,
    table: Mapping[str, str] = DEFAULT_ACTION_SCOPES,
) -> str | None:
    """The first scope ``action`` needs that ``granted`` lacks (None: it may act).

    ``orch:admin`` may do anything.

    >>> missing_scope({"agents:write"}, "start_new_agent_conversation", with_message=True)
    'agents:message'
    >>> missing_scope({ADMIN_SCOPE}, "delete_session") is None
    True
    """
    if ADMIN_SCOPE in granted:
        return None
    needed = required_scopes(action, with_message=with_message, table=table)
    return next((scope for scope in needed if scope not in granted), None)


def authorize(
    principal: Principal,
    action: str,
    *,
    with_message: bool = False,
    table: Mapping[str, str] = DEFAULT_ACTION_SCOPES,
) -> Result[Principal, OrchError]:
    """``principal`` if it may perform ``action``, else ``PERMISSION_DENIED`` naming
    the first scope it lacks."""
    scope = missing_scope(principal.scopes, action, with_message=with_message, table=table)
    if scope is None:
        return Success(principal)
    return Failure(
        OrchError(
            code=ErrorCode.PERMISSION_DENIED,
            message=f"{action} needs the scope {scope!r}, which your token does not grant",
        )
    )
