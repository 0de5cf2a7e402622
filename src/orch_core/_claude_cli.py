"""What one agent turn's Claude Code CLI prints, read without doing any I/O.

A turn is ``claude -p --output-format stream-json --verbose`` (see
:mod:`orch_core._claude_invocation`). This module reads the JSON lines it prints
-- sans-IO in the manner of h11: the shell feeds complete lines in and asks for a
:class:`TurnReport` when the process is gone, so every rule here is testable
against recorded output.

Theory of operation: the ``result`` event is the only authority on how a turn
ended. ``system``/``init`` gives the conversation id early (so a cancelled turn
can still be resumed), ``assistant`` events only feed a live "what is it doing"
view, and anything unknown is skipped because new CLI versions add event types
and fields often.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from attrs import field, frozen

from ._claude_fields import as_int, as_text, model_usages, summarise_input, turn_cost, usage_from
from ._model import ModelUsage, Usage

Outcome = Literal["completed", "failed", "timeout", "cancelled"]


@frozen(kw_only=True)
class Activity:
    """What an agent is doing now; ``kind`` is "writing", "tool" or "thinking"."""

    kind: str
    description: str
    tool_name: str | None = None


@frozen(kw_only=True)
class PermissionDenial:
    """A tool call the CLI refused; ``detail`` is a short summary of its input."""

    tool_name: str
    detail: str


@frozen(kw_only=True)
class TurnReport:
    """Everything the server keeps about a finished turn."""

    outcome: Outcome
    reply: str
    error: str | None
    claude_session_id: str | None
    cost_usd: float = 0.0
    duration_ms: int = 0
    num_turns: int = 0
    usage: Usage = field(factory=Usage)
    permission_denials: tuple[PermissionDenial, ...] = ()
    tool_uses: int = 0
    exit_code: int | None = None
    #: Cost and tokens per model (empty when the CLI gave no result).
    models: tuple[ModelUsage, ...] = ()


def _denials(value: object) -> tuple[PermissionDenial, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(
        PermissionDenial(
            tool_name=as_text(item.get("tool_name")) or "?",
            detail=summarise_input(item.get("tool_input")),
        )
        for item in value
        if isinstance(item, dict)
    )


def _block_activity(block: dict[str, Any]) -> Activity | None:
    kind = block.get("type")
    if kind == "text":
        return Activity(kind="writing", description="writing")
    if kind in {"thinking", "redacted_thinking"}:
        return Activity(kind="thinking", description="thinking")
    if kind == "tool_use":
        name = as_text(block.get("name")) or "?"
        return Activity(kind="tool", description=f"using tool {name}", tool_name=name)
    return None


class StreamParser:
    """Reads one turn's stream-json lines; call :meth:`finish` once the process is gone.

    >>> p = StreamParser(max_reply_bytes=100)
    >>> p.feed_line(b'{"type":"assistant","message":{"content":[{"type":"text","text":"hi"}]}}')
    Activity(kind='writing', description='writing', tool_name=None)
    >>> p.feed_line(b'not json') is None
    True
    >>> _ = p.feed_line(b'{"type":"result","is_error":false,"result":"hi","session_id":"s1"}')
    >>> r = p.finish(exit_code=0, stderr_tail="")
    >>> (r.outcome, r.reply, r.claude_session_id)
    ('completed', 'hi', 's1')
    """

    def __init__(self, *, max_reply_bytes: int) -> None:
        self._max_reply_bytes = max_reply_bytes
        self._init_session_id: str | None = None
        self._init_model: str | None = None
        self._result: dict[str, Any] | None = None
        self.saw_init = False
        self.tool_uses = 0

    @property
    def claude_session_id(self) -> str | None:
        """The id to resume with: the latest ``result``'s, else the ``init`` one."""
        from_result = as_text(self._result.get("session_id")) if self._result else None
        return from_result or self._init_session_id

    def feed_line(self, line: bytes) -> Activity | None:
        """Take one complete line (no newline); return the activity it shows, if any."""
        try:
            event = json.loads(line)
        except (ValueError, RecursionError):  # not JSON: progress noise, never an error
            return None
        if not isinstance(event, dict):
            return None
        kind = event.get("type")
        if kind == "system" and event.get("subtype") == "init":
            self.saw_init = True
            self._init_session_id = as_text(event.get("session_id")) or self._init_session_id
            self._init_model = as_text(event.get("model")) or self._init_model
        elif kind == "result":
            self._result = event
        elif kind == "assistant":
            return self._assistant(event)
        return None

    def _assistant(self, event: dict[str, Any]) -> Activity | None:
        message = event.get("message")
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, list):
            return None
        latest: Activity | None = None
        for block in content:
            activity = _block_activity(block) if isinstance(block, dict) else None
            if activity is not None:
                self.tool_uses += 1 if activity.kind == "tool" else 0
                latest = activity
        return latest

    def finish(
        self,
        *,
        exit_code: int,
        stderr_tail: str,
        timed_out: bool = False,
        cancelled: bool = False,
        overflow: str | None = None,
    ) -> TurnReport:
        """Decide how the turn ended; what the shell saw outranks what the CLI said."""
        result = self._result or {}
        stderr_tail = stderr_tail.strip()
        outcome: Outcome = "failed"
        reply, error = "", overflow
        if cancelled:
            outcome, error = "cancelled", "the turn was cancelled; its processes were stopped"
        elif timed_out:
            outcome, error = "timeout", "the turn timed out; its processes were stopped"
        elif overflow is None:
            outcome, reply, error = self._judge(exit_code, stderr_tail)
        return TurnReport(
            outcome=outcome,
            reply=reply,
            error=error,
            claude_session_id=self.claude_session_id,
            cost_usd=turn_cost(result),
            duration_ms=as_int(result.get("duration_ms")),
            num_turns=as_int(result.get("num_turns")),
            usage=usage_from(result.get("usage")),
            permission_denials=_denials(result.get("permission_denials")),
            tool_uses=self.tool_uses,
            exit_code=exit_code,
            models=model_usages(result, self._init_model),
        )

    def _judge(self, exit_code: int, stderr: str) -> tuple[Outcome, str, str | None]:
        result = self._result
        if result is None:
            return "failed", "", stderr or f"claude exited with code {exit_code} without a result"
        if result.get("is_error") is not False:
            errors = result.get("errors")
            listed = (
                "; ".join(e for e in errors if isinstance(e, str))
                if isinstance(errors, list)
                else ""
            )
            subtype = as_text(result.get("subtype")) or "unknown"
            text = as_text(result.get("result")) or listed or stderr
            return "failed", "", text or f"claude reported an error ({subtype})"
        if exit_code != 0:
            detail = f": {stderr}" if stderr else ""
            return (
                "failed",
                "",
                f"claude exited with code {exit_code} after a success result{detail}",
            )
        reply = as_text(result.get("result")) or ""
        if len(reply.encode("utf-8", "replace")) > self._max_reply_bytes:
            return "failed", "", f"the reply exceeded {self._max_reply_bytes} bytes"
        return "completed", reply, None
