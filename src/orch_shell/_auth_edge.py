"""The security context: every tool call and resource read is authenticated, then
authorized, before a handler runs.

One middleware for both transports. What differs is only where the token comes
from (``authenticate``): on stdio the ``ORCH_TOKEN``/``ORCH_TOKEN_FILE`` token,
on HTTP the request's bearer token; both are checked by the same verifier on
every call, so a token that expires while the server runs stops working at
once. The :class:`Principal` made from the token is handed to the handler
through a context variable (the handler runs inside ``call_next``), and the
core enforces ownership with it.

Listing tools and resource templates needs no token: it reveals only the static
schema, the same for everyone. Reading ``orch://metrics`` or ``orch://health`` is
the action ``read_metrics`` (scope ``metrics:read``), not ``read_resource``:
those numbers cover every subject's sessions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any, Final

import structlog
from fastmcp.exceptions import ResourceError, ToolError
from fastmcp.server.middleware import CallNext, Middleware, MiddlewareContext
from returns.result import Failure, Result

from orch_core import READ_METRICS, READ_RESOURCE, OrchError, Principal, authorize

from ._credentials import Authenticate

log = structlog.get_logger("orch.auth")

_PRINCIPAL: ContextVar[Principal] = ContextVar("orch_principal")

MONITORING_URIS: Final = frozenset({"orch://metrics", "orch://health"})


def resource_action(uri: object) -> str:
    """The action reading ``uri`` is authorized as."""
    return READ_METRICS if uri in MONITORING_URIS else READ_RESOURCE


def current_principal() -> Principal:
    """The principal of the call being handled.

    Only :class:`SecurityContext` sets it; a handler reached without it is a bug
    (``LookupError``, reported as ``INTERNAL``), never an anonymous call.
    """
    return _PRINCIPAL.get()


class SecurityContext(Middleware):
    """Authenticate and authorize each call; refuse before the handler runs."""

    def __init__(
        self,
        authenticate: Authenticate,
        scopes: Mapping[str, str],
        on_auth_failure: Callable[[str], None] | None = None,
        on_authenticated: Callable[[Principal], None] | None = None,
    ) -> None:
        """``on_auth_failure`` gets each refused credential's reason (metrics, audit);
        ``on_authenticated`` each accepted principal, before authorization (audit)."""
        self._authenticate = authenticate
        self._scopes = scopes
        self._on_auth_failure = on_auth_failure
        self._on_authenticated = on_authenticated

    def _admit(self, action: str, *, with_message: bool) -> Result[Principal, OrchError]:
        authenticated = self._authenticate()
        if isinstance(authenticated, Failure):
            failure = authenticated.failure()
            log.warning("authentication failed", action=action, reason=failure.reason.value)
            if self._on_auth_failure is not None:
                self._on_auth_failure(failure.reason.value)
            return Failure(failure.as_error())
        principal = authenticated.unwrap()
        if self._on_authenticated is not None:
            self._on_authenticated(principal)
        allowed = authorize(principal, action, with_message=with_message, table=self._scopes)
        if isinstance(allowed, Failure):
            log.warning("permission denied", action=action, subject=principal.subject)
        return allowed

    async def on_call_tool(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        name = context.message.name
        arguments = context.message.arguments or {}
        # Sending a first message is messaging: it needs that scope too.
        with_message = bool(arguments.get("initial_message"))
        admitted = self._admit(name, with_message=with_message)
        if isinstance(admitted, Failure):
            raise ToolError(str(admitted.failure()))
        return await _as(admitted.unwrap(), call_next, context)

    async def on_read_resource(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        admitted = self._admit(resource_action(str(context.message.uri)), with_message=False)
        if isinstance(admitted, Failure):
            raise ResourceError(str(admitted.failure()))
        return await _as(admitted.unwrap(), call_next, context)


async def _as(principal: Principal, call_next: CallNext[Any, Any], context: Any) -> Any:
    reset = _PRINCIPAL.set(principal)
    try:
        return await call_next(context)
    finally:
        _PRINCIPAL.reset(reset)
