"""How one agent turn talks to the Claude Code CLI, without doing any I/O.

A turn is ``claude -p --output-format stream-json --verbose`` with the message on
stdin. This module builds that command line, filters the environment the agent
may see, and reads the JSON lines the CLI prints -- sans-IO in the manner of h11:
the shell feeds complete lines in and asks for a :class:`TurnReport` when the
process is gone, so every rule here is testable against recorded output.

Theory of operation: the ``result`` event is the only authority on how a turn
ended. ``system``/``init`` gives the conversation id early (so a cancelled turn
can still be resumed), ``assistant`` events only feed a live "what is it doing"
view, and anything unknown is skipped because new CLI versions add event types
and fields often.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from attrs import field, frozen

Outcome = Literal["completed", "failed", "timeout", "cancelled"]

_ALLOWED_NAMES = frozenset({
    "HOME", "PATH", "USER", "LOGNAME", "SHELL", "TMPDIR", "TERM", "LANG", "TZ",
    "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "https_proxy", "http_proxy", "no_proxy",
    "NODE_EXTRA_CA_CERTS", "CLAUDE_CONFIG_DIR",
    "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME",
})  # fmt: skip
_ALLOWED_PREFIXES = ("LC_", "ANTHROPIC_", "CLAUDE_CODE_", "DISABLE_")
_SUMMARY_KEYS = ("command", "file_path", "path", "notebook_path", "url", "pattern", "query")
_SUMMARY_CHARS = 200


def build_argv(
    command: Sequence[str],
    *,
    resume_id: str | None,
    model: str | None,
    permission_mode: str | None,
    role: str,
) -> tuple[str, ...]:
    """The command line for one headless turn; the message itself goes to stdin.

    Keeping the message out of argv keeps it out of ``ps`` and clear of argv limits.

    >>> build_argv(["claude"], resume_id="abc", model=None, permission_mode=None, role="")
    ('claude', '-p', '--output-format', 'stream-json', '--verbose', '--resume', 'abc')
    """
    argv = [*command, "-p", "--output-format", "stream-json", "--verbose"]
    if resume_id is not None:
        argv += ["--resume", resume_id]
    if model is not None:
        argv += ["--model", model]
    if permission_mode is not None:
        argv += ["--permission-mode", permission_mode]
    if role:
        argv += ["--append-system-prompt", role]
    return tuple(argv)


def agent_environment(
    environ: Mapping[str, str], extra_names: Sequence[str] = ()
) -> dict[str, str]:
    """The environment an agent process gets: an allow-list, never the server's own.

    ``CLAUDECODE`` (it makes the CLI think it is nested) and every ``ORCH_*`` name
    (the server's tokens and keys) are dropped even when asked for by name.

    >>> env = {"HOME": "/h", "LC_ALL": "C", "ANTHROPIC_API_KEY": "k", "CLAUDECODE": "1",
    ...        "ORCH_TOKEN": "secret", "AWS_SECRET": "x", "MY_VAR": "y"}
    >>> sorted(agent_environment(env, extra_names=["MY_VAR", "ORCH_TOKEN", "CLAUDECODE"]))
    ['ANTHROPIC_API_KEY', 'HOME', 'LC_ALL', 'MY_VAR']
    """
    extra = frozenset(extra_names)

    def allowed(name: str) -> bool:
        if name == "CLAUDECODE" or name.startswith("ORCH_"):
            return False
        return name in _ALLOWED_NAMES or name in extra or name.startswith(_ALLOWED_PREFIXES)

    return {name: value for name, value in environ.items() if allowed(name)}


@frozen(kw_only=True)
class Activity:
    """What an agent is doing now; ``kind`` is "writing", "tool" or "thinking"."""

    kind: str
    description: str
    tool_name: str | None = None


@frozen(kw_only=True)
class Usage:
    """Token counts of a turn, as the ``result`` event reports them."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0


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


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _float(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    try:
        number = float(value)
    except OverflowError:  # a JSON integer too big for a float
        return 0.0
    return number if math.isfinite(number) else 0.0


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _summarise(tool_input: object) -> str:
    """A one-line hint of what a refused tool call wanted, bounded in size."""
    if isinstance(tool_input, dict):
        for key in _SUMMARY_KEYS:
            if isinstance(tool_input.get(key), str):
                return str(tool_input[key])[:_SUMMARY_CHARS]
    try:
        return json.dumps(tool_input, sort_keys=True, default=str)[:_SUMMARY_CHARS]
    except (ValueError, TypeError, RecursionError):
        return ""


def _denials(value: object) -> tuple[PermissionDenial, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(
        PermissionDenial(
            tool_name=_text(item.get("tool_name")) or "?", detail=_summarise(item.get("tool_input"))
        )
        for item in value
        if isinstance(item, dict)
    )


def _usage(value: object) -> Usage:
    if not isinstance(value, dict):
        return Usage()
    return Usage(
        input_tokens=_int(value.get("input_tokens")),
        output_tokens=_int(value.get("output_tokens")),
        cache_read_input_tokens=_int(value.get("cache_read_input_tokens")),
        cache_creation_input_tokens=_int(value.get("cache_creation_input_tokens")),
    )


def _block_activity(block: dict[str, Any]) -> Activity | None:
    kind = block.get("type")
    if kind == "text":
        return Activity(kind="writing", description="writing")
    if kind in {"thinking", "redacted_thinking"}:
        return Activity(kind="thinking", description="thinking")
    if kind == "tool_use":
        name = _text(block.get("name")) or "?"
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
        self._result: dict[str, Any] | None = None
        self.saw_init = False
        self.tool_uses = 0

    @property
    def claude_session_id(self) -> str | None:
        """The id to resume with: the latest ``result``'s, else the ``init`` one."""
        from_result = _text(self._result.get("session_id")) if self._result else None
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
            self._init_session_id = _text(event.get("session_id")) or self._init_session_id
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
            cost_usd=_float(result.get("total_cost_usd")),
            duration_ms=_int(result.get("duration_ms")),
            num_turns=_int(result.get("num_turns")),
            usage=_usage(result.get("usage")),
            permission_denials=_denials(result.get("permission_denials")),
            tool_uses=self.tool_uses,
            exit_code=exit_code,
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
            subtype = _text(result.get("subtype")) or "unknown"
            text = _text(result.get("result")) or listed or stderr
            return "failed", "", text or f"claude reported an error ({subtype})"
        if exit_code != 0:
            detail = f": {stderr}" if stderr else ""
            return (
                "failed",
                "",
                f"claude exited with code {exit_code} after a success result{detail}",
            )
        reply = _text(result.get("result")) or ""
        if len(reply.encode("utf-8", "replace")) > self._max_reply_bytes:
            return "failed", "", f"the reply exceeded {self._max_reply_bytes} bytes"
        return "completed", reply, None
