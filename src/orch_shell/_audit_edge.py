"""The audit trail at the MCP edge: a record for every interaction, written first.

:class:`AuditTrail` sits just inside telemetry (so records carry the request
id) and outside error mapping (so they carry the code the client sees). For a
tool call:

* a call refused before its handler (``UNAUTHENTICATED``, ``PERMISSION_DENIED``,
  ``RATE_LIMITED``, ``INVALID_ARGUMENT`` from the schema check) gets a
  ``refused`` decision record with that code;
* a call that passed every check gets an ``allowed`` decision record from
  :func:`admitted`, the first thing its handler does; if that record cannot be
  written the tool does not run and the client gets ``UNAVAILABLE`` (fail closed);
* its outcome record follows: inside the state change's own transaction for a
  tool that changes state (the orchestrator writes it), else here, after the
  handler. A success whose outcome cannot be written is answered ``UNAVAILABLE``,
  so the client never sees a success the log does not hold.

Resource reads, ``initialize`` and ``tools/list`` get one record each. A
transcript is not shown if its read cannot be recorded; health and metrics are
(they hold no user data, and must work when the disk is what fails).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

from fastmcp.exceptions import ResourceError, ToolError
from fastmcp.server.middleware import CallNext, Middleware, MiddlewareContext
from returns.result import Failure

from orch_core import AuditKind, ErrorCode, redact_arguments

from ._audit_calls import _CALL, AuditedCall, Body, current_call
from ._audit_log import AuditLog
from ._auth_edge import MONITORING_URIS
from ._errors_edge import raise_tool_error
from ._logging import current_request_id
from ._metrics import CANCELLED, OK
from ._telemetry_edge import code_of

P = ParamSpec("P")
R = TypeVar("R")


def admitted(handler: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Wrap a tool handler: record the ``allowed`` decision before it runs.

    FastMCP validates the arguments before calling the wrapper (it reads the
    handler's own signature through ``functools.wraps``), so a call reaching
    here passed every check.
    """

    @functools.wraps(handler)
    async def gate(*args: P.args, **kwargs: P.kwargs) -> R:
        call = current_call()
        if call is not None and not call.decided:
            call.decided = True
            written = call.audit.append(AuditKind.DECISION, call.decision(None))
            if isinstance(written, Failure):
                call.outcome_written = True  # nothing ran: there is no outcome
                raise_tool_error(written.failure())
        return await handler(*args, **kwargs)

    return gate


def _client_info(params: object) -> Body | None:
    """Name and version from ``initialize`` parameters (``None`` when absent)."""
    info = getattr(params, "client_info", None) or getattr(params, "clientInfo", None)
    if info is None:
        return None
    return {"name": str(info.name)[:128], "version": str(info.version)[:64]}


def _client(context: MiddlewareContext[Any]) -> Body | None:
    """The client's name and version from its ``initialize``, when the session has one."""
    session = getattr(context.fastmcp_context, "session", None) if context.fastmcp_context else None
    return _client_info(getattr(session, "client_params", None))


def _base(context: MiddlewareContext[Any]) -> Body:
    fastmcp_context = context.fastmcp_context
    transport = None if fastmcp_context is None else fastmcp_context.transport
    try:
        client = _client(context)
    except RuntimeError:  # no session outside a request
        client = None
    return {"request_id": current_request_id(), "transport": transport, "client": client}


class AuditTrail(Middleware):
    """Write the audit records of each MCP interaction (see the module docs)."""

    def __init__(self, audit: AuditLog, *, keep_texts: bool) -> None:
        self._audit = audit
        self._keep_texts = keep_texts

    async def on_call_tool(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        arguments = context.message.arguments
        call = AuditedCall(
            audit=self._audit,
            tool=str(context.message.name),
            base=_base(context),
            arguments=redact_arguments(
                arguments if isinstance(arguments, dict) else {}, keep_texts=self._keep_texts
            ),
        )
        reset = _CALL.set(call)
        try:
            result = await call_next(context)
        except BaseException as error:
            self._finish(call, code_of(error))
            raise
        finally:
            _CALL.reset(reset)
        if not self._finish(call, OK):
            raise ToolError(f"{ErrorCode.UNAVAILABLE.value}: the call ran, but {_UNRECORDED}")
        return result

    def _finish(self, call: AuditedCall, code: str) -> bool:
        """Write what the call still lacks: a refusal, or an outcome; False if it failed."""
        if not call.decided:
            call.decided = True
            return self._write(AuditKind.DECISION, call.decision(code))
        if call.wants_outcome:
            call.outcome_written = True
            return self._write(AuditKind.OUTCOME, call.outcome(code))
        if code == CANCELLED:  # after its outcome: a send stopped while it waited
            return self._write(AuditKind.CANCELLED, call.outcome(code))
        return True

    def _write(self, kind: AuditKind, body: Body) -> bool:
        return not isinstance(self._audit.append(kind, body), Failure)

    async def on_read_resource(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        uri = str(context.message.uri)
        call = AuditedCall(
            audit=self._audit, tool="resources/read", base=_base(context), arguments={}
        )
        reset = _CALL.set(call)
        try:
            result = await call_next(context)
        except BaseException as error:
            self._write(AuditKind.RESOURCE_READ, call.read(uri, code_of(error)))
            raise
        finally:
            _CALL.reset(reset)
        written = self._write(AuditKind.RESOURCE_READ, call.read(uri, OK))
        # Health must stay readable when the disk is what is failing; it and the
        # metrics hold no user data. A transcript is not shown unrecorded.
        if not written and uri not in MONITORING_URIS:
            raise ResourceError(f"{ErrorCode.UNAVAILABLE.value}: {_UNRECORDED}")
        return result

    async def on_list_tools(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        result = await call_next(context)
        self._write(AuditKind.TOOLS_LIST, _base(context))
        return result

    async def on_initialize(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        result = await call_next(context)
        params = getattr(context.message, "params", None)
        client = _client_info(params)
        version = getattr(params, "protocol_version", None) or getattr(
            params, "protocolVersion", None
        )
        self._write(
            AuditKind.INITIALIZE,
            {**_base(context), "client": client, "protocol_version": str(version)[:32]},
        )
        return result


_UNRECORDED = (
    "its audit record could not be written; check the data folder's free space and "
    "permissions (`orch doctor`)"
)
