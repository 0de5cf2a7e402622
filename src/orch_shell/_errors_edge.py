"""The MCP edge: how a failure becomes the text a client sees.

This is one of the two seams where exceptions become errors (the other wraps
I/O in the shell), so it alone catches broad ``Exception``.

A ``Failure(OrchError)`` becomes a ``ToolError`` whose text is ``CODE: message``.
FastMCP's own schema checks (wrong type, out of range, missing or unknown
argument) become ``INVALID_ARGUMENT`` naming the field. Anything unexpected
becomes ``INTERNAL: internal error (ref …)``: the detail and traceback go to the
server log under the same ref, never to the client.
"""

from __future__ import annotations

import secrets
from typing import Any, NoReturn, TypeVar

import pydantic
import structlog
from fastmcp.exceptions import (
    DisabledError,
    FastMCPError,
    NotFoundError,
    ResourceError,
    ToolError,
    ValidationError,
)
from fastmcp.server.middleware import CallNext, Middleware, MiddlewareContext
from mcp.shared.exceptions import MCPError
from returns.result import Failure, Result

from orch_core import ErrorCode, OrchError

log = structlog.get_logger("orch.edge")

T = TypeVar("T")


def unwrap_or_raise(result: Result[T, OrchError]) -> T:
    """The success value, or a ``ToolError`` with the failure's code and message."""
    if isinstance(result, Failure):
        raise_tool_error(result.failure())
    return result.unwrap()


def raise_tool_error(error: OrchError) -> NoReturn:
    if error.detail:
        log.info("tool failed", code=error.code.value, detail=error.detail)
    raise ToolError(str(error))


def _field_errors(error: pydantic.ValidationError) -> str:
    parts = []
    for item in error.errors(include_url=False):
        where = ".".join(str(p) for p in item["loc"]) or "arguments"
        kind = item["type"]
        if kind == "missing_argument":
            parts.append(f"{where}: required")
        elif kind == "unexpected_keyword_argument":
            parts.append(f"{where}: unknown argument")
        else:
            parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


def _internal(error: BaseException, what: str) -> str:
    ref = secrets.token_hex(6)
    log.error("internal error", ref=ref, where=what, exc_info=error)
    return f"{ErrorCode.INTERNAL.value}: internal error (ref {ref})"


class ErrorMapping(Middleware):
    """Turn every way a call can fail into one stable, safe text."""

    async def on_call_tool(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        try:
            return await call_next(context)
        except ValidationError as error:
            cause = error.__cause__
            detail = (
                _field_errors(cause)
                if isinstance(cause, pydantic.ValidationError)
                else "the arguments do not match the tool's input schema"
            )
            raise ToolError(f"{ErrorCode.INVALID_ARGUMENT.value}: {detail}") from None
        except ToolError as error:
            if error.__cause__ is None:
                raise  # ours: already "CODE: message"
            raise ToolError(_internal(error.__cause__, context.method or "tool")) from None
        except (FastMCPError, MCPError, NotFoundError, DisabledError):
            raise  # FastMCP's own answers, e.g. an unknown tool name
        except Exception as error:  # noqa: BLE001 - the edge: a bug in a middleware below
            raise ToolError(_internal(error, context.method or "tool")) from None

    async def on_read_resource(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        try:
            return await call_next(context)
        except ResourceError as error:
            if error.__cause__ is None or isinstance(error.__cause__, ResourceError):
                raise
            raise ResourceError(_internal(error.__cause__, "resource")) from None
        except (FastMCPError, MCPError, NotFoundError, DisabledError):
            raise  # FastMCP's own answers, e.g. an unknown resource
        except Exception as error:  # noqa: BLE001 - the edge: a bug in a middleware below
            raise ResourceError(_internal(error, "resource")) from None
