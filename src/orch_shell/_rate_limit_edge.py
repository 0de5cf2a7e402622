"""Rate limits at the MCP edge: a token bucket per principal and tool class.

:class:`RateLimit` sits right after the security context, so it knows who is
calling (``current_principal``) and refuses before any handler, schema check or
store work runs: a flood costs the server a bucket lookup per call. The rule
and the arithmetic are the core's (:mod:`orch_core._rate_limit`); this module
only keeps the buckets (memory-only: a restart forgets them) and reads the
clock (monotonic, so a wall-clock step changes nothing).

A refused tool call is a ``ToolError`` whose text is ``RATE_LIMITED: ...``,
naming ``retry_after_ms``, so every middleware outside sees it as any other
refusal (telemetry counts the code, the audit log records it). The same number
also travels as data: :class:`RefusalDetails`, the outermost middleware, turns
such an error into an error result carrying ``_meta["orch/error"]``
(``{"code": "RATE_LIMITED", "retry_after_ms": 1500, ...}``). ``_meta`` rather
than ``structuredContent``: clients validate structured content against the
tool's output schema even on an error result, and an error is not a session
view. A refused resource read is a ``ResourceError`` with the same text (a
JSON-RPC error has no room for ``_meta``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Final

import structlog
from fastmcp.exceptions import ResourceError, ToolError
from fastmcp.server.middleware import CallNext, Middleware, MiddlewareContext
from fastmcp.tools import ToolResult
from mcp.types import TextContent
from returns.result import Failure

from orch_core import (
    Limits,
    RateLimited,
    TokenBucket,
    ToolClass,
    full_bucket,
    is_full,
    rate_rule,
    take,
    tool_class,
)

from ._auth_edge import current_principal, resource_action

log = structlog.get_logger("orch.limits")

META_KEY: Final = "orch/error"
"""The ``_meta`` key of an error result's data (``orch/`` is orch's own prefix)."""

PRUNE_AT: Final = 1024
"""Buckets kept before full ones are forgotten (a missing bucket is a full one)."""


class DetailedToolError(ToolError):
    """A tool error with data for the client: ``CODE: message`` plus ``meta``."""

    def __init__(self, text: str, meta: dict[str, Any]) -> None:
        super().__init__(text)
        self.meta = meta


def rate_limited_error(refused: RateLimited) -> DetailedToolError:
    """The error a client gets for ``refused``: text and data say when to retry."""
    error = refused.as_error()
    data = {
        "code": error.code.value,
        "retry_after_ms": refused.retry_after_ms,
        "tool_class": refused.tool_class.value,
        "per_minute": refused.rule.per_minute,
        "burst": refused.rule.burst,
    }
    return DetailedToolError(str(error), {META_KEY: data})


class RateLimit(Middleware):
    """Admit each tool call and resource read against its principal's bucket."""

    def __init__(
        self,
        limits: Limits,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_refused: Callable[[], None] | None = None,
    ) -> None:
        self._limits = limits
        self._clock = clock
        self._on_refused = on_refused
        self._buckets: dict[tuple[str, ToolClass], TokenBucket] = {}
        self._prune_at = PRUNE_AT

    def _admit(self, action: str, *, with_message: bool) -> RateLimited | None:
        kind = tool_class(action, with_message=with_message)
        rule = rate_rule(self._limits, kind)
        if rule.unlimited:
            return None
        now = self._clock()
        key = (current_principal().subject, kind)
        taken = take(self._buckets.get(key) or full_bucket(rule, now), rule, kind, now)
        if isinstance(taken, Failure):
            refused: RateLimited = taken.failure()
            # debug: telemetry already logs every call's code, and a flood must not
            # become a flood of warnings.
            log.debug(
                "rate limited", action=action, subject=key[0], retry_after_ms=refused.retry_after_ms
            )
            if self._on_refused is not None:
                self._on_refused()
            return refused
        self._buckets[key] = taken.unwrap()
        if len(self._buckets) >= self._prune_at:
            self._prune(now)
        return None

    def _prune(self, now: float) -> None:
        self._buckets = {
            key: bucket
            for key, bucket in self._buckets.items()
            if not is_full(bucket, rate_rule(self._limits, key[1]), now)
        }
        self._prune_at = max(PRUNE_AT, 2 * len(self._buckets))

    async def on_call_tool(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        arguments = context.message.arguments or {}
        # As in the security context: a first message makes a start-new a message.
        with_message = bool(arguments.get("initial_message"))
        refused = self._admit(str(context.message.name), with_message=with_message)
        if refused is not None:
            raise rate_limited_error(refused)
        return await call_next(context)

    async def on_read_resource(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        refused = self._admit(resource_action(str(context.message.uri)), with_message=False)
        if refused is not None:
            raise ResourceError(str(refused.as_error()))
        return await call_next(context)


class RefusalDetails(Middleware):
    """The outermost middleware: a :class:`DetailedToolError` becomes an error result
    with ``_meta``, after every middleware inside it has seen the error as raised."""

    async def on_call_tool(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        try:
            return await call_next(context)
        except DetailedToolError as error:
            text = TextContent(type="text", text=str(error))
            return ToolResult(content=[text], meta=error.meta, is_error=True)
