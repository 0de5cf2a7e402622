"""orch's stdio transport: how an answer is encoded (the wire is tested end to end
in ``tests/e2e/test_stdio_transport.py`` and ``tests/faults/test_protocol_faults.py``)."""

from __future__ import annotations

import json

import mcp_types as types
import pytest

from orch_shell._jsonrpc_envelope import encode


def test_an_answer_with_a_lone_surrogate_goes_out_escaped_instead_of_ending_the_server() -> None:
    answer = types.JSONRPCResponse(jsonrpc="2.0", id=7, result={"text": "a\ud800b"})
    with pytest.raises(ValueError, match="surrogates not allowed"):  # why encode falls back
        answer.model_dump_json()
    line = encode(answer)
    assert line.isascii() and "\n" not in line
    assert json.loads(line) == {"jsonrpc": "2.0", "id": 7, "result": {"text": "a\ud800b"}}


def test_an_ordinary_answer_is_compact_json_without_unset_fields() -> None:
    error = types.JSONRPCError(
        jsonrpc="2.0", id="x", error=types.ErrorData(code=-32600, message="é")
    )
    assert encode(error) == '{"jsonrpc":"2.0","id":"x","error":{"code":-32600,"message":"é"}}'
