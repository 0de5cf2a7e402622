"""The JSON-RPC 2.0 envelope of a line, judged before the MCP session sees it.

Pure functions for orch's stdio transport (:mod:`._stdio`): strict JSON, usable
ids, what to answer for a malformed message or a batch, and encoding an answer
so that it can always go out.
"""

from __future__ import annotations

import json
from typing import Final, Literal, NoReturn

import mcp_types as types
import structlog

log = structlog.get_logger("orch.stdio")

RequestId = int | str

NOT_RPC: Final = "invalid request: not a JSON-RPC 2.0 message"
BAD_ID: Final = "invalid request: the id must be a string or an integer"
BAD_PARAMS: Final = "invalid request: params must be an object or an array"
POSITIONAL: Final = "invalid params: MCP params are named (an object), not an array"
NO_BATCHES: Final = (
    "invalid request: JSON-RPC batches are not supported (MCP removed them in 2025-06-18); "
    "send one message per line"
)

#: :func:`judge`'s verdict on a notification orch drops (JSON-RPC answers none).
IGNORE: Final = "ignore"


def error_answer(ident: RequestId | None, code: int, message: str) -> types.JSONRPCError:
    return types.JSONRPCError(
        jsonrpc="2.0", id=ident, error=types.ErrorData(code=code, message=message)
    )


def strict_json(line: bytes) -> object:
    """``line`` as JSON (RFC 8259: UTF-8, no ``NaN`` or ``Infinity``); ValueError if it is not."""
    return json.loads(line.decode("utf-8"), parse_constant=not_json)


def not_json(constant: str) -> NoReturn:
    raise ValueError(f"{constant} is not JSON")


def usable_id(value: object) -> RequestId | None:
    """The id of a JSON object, if an answer can carry it back (a string or an integer)."""
    ident = value.get("id") if isinstance(value, dict) else None
    if isinstance(ident, bool) or not isinstance(ident, int | str):
        return None
    if isinstance(ident, str):
        try:
            ident.encode()
        except UnicodeEncodeError:  # a lone surrogate: no UTF-8 answer can carry it
            return None
    return ident


def judge(value: object) -> types.JSONRPCError | Literal["ignore"] | None:
    """What to do with the JSON ``value`` instead of passing it to the session:
    answer an error, or :data:`IGNORE` it; None when its envelope is sound.

    Checked here: what the SDK gets wrong (a request with an unusable id passes for
    a notification and is dropped unanswered) or answers with the wrong code.
    Which methods exist and what their params hold is the session's to judge.
    """
    ident = usable_id(value)
    method = value.get("method", "") if isinstance(value, dict) else None
    if not isinstance(value, dict) or value.get("jsonrpc") != "2.0" or not isinstance(method, str):
        return error_answer(ident, types.INVALID_REQUEST, NOT_RPC)
    if "method" not in value:  # a response (the session ignores strays), or not a message
        responds = "id" in value and ("result" in value or "error" in value)
        return None if responds else error_answer(ident, types.INVALID_REQUEST, NOT_RPC)
    is_request = "id" in value
    if is_request and ident is None:
        return error_answer(None, types.INVALID_REQUEST, BAD_ID)
    params = value.get("params")
    if params is not None and not isinstance(params, dict | list):
        return error_answer(ident, types.INVALID_REQUEST, BAD_PARAMS)
    if isinstance(params, list):
        return error_answer(ident, types.INVALID_PARAMS, POSITIONAL) if is_request else IGNORE
    return None


def batch_answers(batch: list[object]) -> list[types.JSONRPCError]:
    """A non-empty batch's answers: the refusal of each member JSON-RPC answers."""
    answers = []
    for member in batch:
        refusal = judge(member)
        if isinstance(refusal, types.JSONRPCError):
            answers.append(refusal)
        elif refusal is None and isinstance(member, dict) and "method" in member and "id" in member:
            answers.append(error_answer(usable_id(member), types.INVALID_REQUEST, NO_BATCHES))
    return answers


def encode(message: types.JSONRPCMessage) -> str:
    """``message`` as one line of JSON.

    A string with a lone surrogate (``"\\ud800"`` is valid JSON, but UTF-8 cannot
    encode it, so pydantic refuses to) goes out escaped, as it would have come
    in: raising here would end the whole server, not just this answer.
    """
    try:
        return message.model_dump_json(by_alias=True, exclude_unset=True)
    except ValueError:
        log.warning("an answer holds a lone surrogate; it goes out escaped")
        return json.dumps(message.model_dump(mode="json", by_alias=True, exclude_unset=True))
