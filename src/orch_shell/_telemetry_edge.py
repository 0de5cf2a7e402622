"""Telemetry at the MCP edge: a request id, a log line and metrics for every call.

The outermost middleware, so it sees what the client sees: the final answer of
the call after error mapping and the security check (``UNAUTHENTICATED`` and
``PERMISSION_DENIED`` are counted like any other code). Everything inside the
call, down to the handler and the tasks it starts, logs with the same
``request_id`` (:func:`._logging.request_scope`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, Final

import structlog
from fastmcp.exceptions import NotFoundError
from fastmcp.server.middleware import CallNext, Middleware, MiddlewareContext

from orch_core import ErrorCode

from ._logging import request_scope
from ._metrics import CANCELLED, CODES, OK, Metrics

log = structlog.get_logger("orch.calls")

_RESOURCES: Final = (
    ("orch://agents/", "agent_transcript"),
    ("orch://conversations/", "conversation_transcript"),
)
METRICS_URI: Final = "orch://metrics"
HEALTH_URI: Final = "orch://health"


def code_of(error: BaseException) -> str:
    """The code a client sees for ``error``: the ``CODE:`` its text starts with."""
    if isinstance(error, asyncio.CancelledError):
        return CANCELLED
    if isinstance(error, NotFoundError):
        return ErrorCode.NOT_FOUND.value
    prefix = str(error).partition(":")[0]
    return prefix if prefix in CODES else ErrorCode.INTERNAL.value


def resource_kind(uri: str) -> str:
    """A bounded label for a resource URI (its template, never the ids in it)."""
    if uri in (METRICS_URI, HEALTH_URI):
        return uri.removeprefix("orch://")
    for prefix, kind in _RESOURCES:
        if uri.startswith(prefix) and uri.endswith("/transcript"):
            return kind
    return "other"


class Telemetry(Middleware):
    """Give each tool call and resource read a request id, log it, and count it."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    async def on_call_tool(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        tool = str(context.message.name)
        return await _observed(
            call_next,
            context,
            lambda code, elapsed: self._metrics.tool_call(tool, code, elapsed),
            "tool call",
            tool=tool,
        )

    async def on_read_resource(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        kind = resource_kind(str(context.message.uri))
        return await _observed(
            call_next,
            context,
            lambda code, _elapsed: self._metrics.resource_read(kind, code),
            "resource read",
            resource=kind,
        )


async def _observed(
    call_next: CallNext[Any, Any],
    context: MiddlewareContext[Any],
    record: Callable[[str, float], None],
    event: str,
    **labels: str,
) -> Any:
    """Run the call under a fresh request id; record and log its code and time."""
    with request_scope():
        started = time.perf_counter()
        code = OK
        try:
            return await call_next(context)
        except BaseException as error:
            code = code_of(error)
            raise
        finally:
            elapsed = time.perf_counter() - started
            record(code, elapsed)
            log.info(event, **labels, code=code, ms=round(elapsed * 1000, 2))
