#!/usr/bin/env python3
"""A stand-in for ``claude -p --output-format stream-json --verbose`` in tests.

It prints the event shapes of the real CLI 2.1.328 (see the fixtures in
``shared/claude-cli-2.1.328``) so the runtime is tested against a real process,
not a mock. Accepted flags: ``-p``, ``--output-format``, ``--verbose``,
``--resume ID``, ``--model M``, ``--permission-mode P``, ``--append-system-prompt R``;
unknown flags are ignored. ``--version`` prints ``2.1.328-fake (Claude Code)`` and
exits 0, reading nothing.

The whole message is read from stdin. Conversations live in
``$HOME/.fake-claude/<id>.json``; the reply is ``turn N: <first 200 chars of the
message without directive lines>``, N counting turns of that conversation, so a
``--resume`` visibly continues. An unknown ``--resume`` id fails like fixture 04
(an ``error_during_execution`` result, the error on stderr, exit 1). Each turn
costs 0.0125 USD and uses 100 input, 20 output, 10 cache-read and 5
cache-creation tokens; like the real CLI, the result carries this turn's cost both
in ``total_cost_usd`` and in ``model_usage_since_last_result`` (per model).
Every run writes its pid to ``$HOME/.fake-claude/last.pid``.

Directives, each on its own line of the message:

``#sleep N``            sleep N seconds before the result, an assistant event each second
``#tools A,B``          a tool_use event and a user tool_result event per tool
``#hang``               print init, an assistant event and what other directives ask for,
                        then sleep forever instead of answering
``#ignore-term``        ignore SIGTERM (only SIGKILL ends it)
``#crash``              print init and an assistant event, then exit 3 without a result
``#exit N text``        print ``text`` to stderr and exit N; nothing on stdout
``#flood MB``           print MB megabytes of 64 KiB assistant lines; the reply is the last one
``#longline BYTES``     print one valid assistant line of exactly BYTES bytes
``#grandchild``         fork a child in the same process group that sleeps an hour
                        (it keeps stdout open); its pid goes to ``grandchild.pid``
``#grandchild-ignore-term``  the same, and the grandchild ignores SIGTERM
``#notloggedin``        fixture 05: result "Not logged in · Please run /login", exit 1
``#garbage``            interleave non-JSON lines and unknown event types
``#deny A,B``           a permission_denials entry per tool
``#cumulative-cost``    report total_cost_usd and modelUsage summed over the conversation, as
                        2.1.328 does on resume; model_usage_since_last_result stays per turn
``#dump-env``           write env, argv, cwd and the message to ``env-<pid>.json``
``#pidfile``            write the pid to ``$HOME/.fake-claude/pid``
``#surrogate``          end the reply with a lone surrogate (``"\\ud800"`` in the JSON)
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import uuid
from pathlib import Path

COST = 0.0125
USAGE = {
    "input_tokens": 100,
    "output_tokens": 20,
    "cache_read_input_tokens": 10,
    "cache_creation_input_tokens": 5,
}
GARBAGE = [b"progress: 42%", b"[1, 2, 3]", b'{"type": "mystery_event", "x": 1}', b"\xff\xfe junk"]


def model_usage(cost: float, turns: int = 1) -> dict[str, object]:
    """A ``modelUsage``-style entry for the one fake model, ``turns`` turns' worth."""
    return {
        "fake-model": {
            "inputTokens": USAGE["input_tokens"] * turns,
            "outputTokens": USAGE["output_tokens"] * turns,
            "cacheReadInputTokens": USAGE["cache_read_input_tokens"] * turns,
            "cacheCreationInputTokens": USAGE["cache_creation_input_tokens"] * turns,
            "webSearchRequests": 0,
            "costUSD": cost,
            "contextWindow": 1000000,
            "maxOutputTokens": 128000,
        }
    }


def emit(event: dict[str, object]) -> None:
    sys.stdout.buffer.write(json.dumps(event).encode() + b"\n")
    sys.stdout.buffer.flush()


def raw(line: bytes) -> None:
    sys.stdout.buffer.write(line + b"\n")
    sys.stdout.buffer.flush()


def parse_args(argv: list[str]) -> dict[str, str]:
    """Flags that take a value, by name; flags without one are ignored."""
    valued = {"--resume", "--model", "--permission-mode", "--append-system-prompt"}
    valued.add("--output-format")
    flags: dict[str, str] = {}
    index = 0
    while index < len(argv):
        if argv[index] in valued and index + 1 < len(argv):
            flags[argv[index]] = argv[index + 1]
            index += 1
        index += 1
    return flags


def parse_directives(message: str) -> tuple[dict[str, str], str]:
    """Split the message into ``#name arg`` directives and the text to echo."""
    directives: dict[str, str] = {}
    text: list[str] = []
    for line in message.splitlines():
        stripped = line.strip()
        if stripped.startswith("#") and len(stripped) > 1 and not stripped.startswith("# "):
            name, _, arg = stripped[1:].partition(" ")
            directives[name] = arg.strip()
        else:
            text.append(line)
    return directives, "\n".join(text).strip()


def assistant(session_id: str, content: list[dict[str, object]]) -> dict[str, object]:
    return {
        "type": "assistant",
        "message": {
            "id": f"msg_{uuid.uuid4().hex[:22]}",
            "type": "message",
            "role": "assistant",
            "model": "fake-model",
            "content": content,
            "usage": {"input_tokens": 100, "output_tokens": 1},
        },
        "parent_tool_use_id": None,
        "session_id": session_id,
        "uuid": str(uuid.uuid4()),
    }


def result(
    session_id: str, reply: str, *, is_error: bool, subtype: str, **extra: object
) -> dict[str, object]:
    event: dict[str, object] = {
        "type": "result",
        "subtype": subtype,
        "is_error": is_error,
        "duration_ms": 5,
        "duration_api_ms": 3,
        "num_turns": 1,
        "result": reply,
        "stop_reason": "end_turn",
        "session_id": session_id,
        "total_cost_usd": COST,
        "usage": dict(USAGE),
        "modelUsage": model_usage(COST),
        "permission_denials": [],
        "terminal_reason": "completed",
        "uuid": str(uuid.uuid4()),
        "model_usage_since_last_result": model_usage(COST),
    }
    event.update(extra)
    return event


def fork_grandchild(state: Path, *, ignore_term: bool) -> None:
    """A child left in our process group, holding stdout open, as a stray tool might."""
    pid = os.fork()
    if pid == 0:
        if ignore_term:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        time.sleep(3600)
        os._exit(0)
    (state / "grandchild.pid").write_text(str(pid))


def stdout_lines(session_id: str, directives: dict[str, str]) -> None:
    """The optional output directives ask for between init and the result."""
    garbage = "garbage" in directives
    if garbage:
        for line in GARBAGE:
            raw(line)
    for name in filter(None, directives.get("tools", "").split(",")):
        tool_id = f"toolu_{uuid.uuid4().hex[:18]}"
        tool_input = {"command": "echo built"} if name == "Bash" else {"file_path": "x.txt"}
        emit(
            assistant(
                session_id, [{"type": "tool_use", "id": tool_id, "name": name, "input": tool_input}]
            )
        )
        content = [
            {"tool_use_id": tool_id, "type": "tool_result", "content": "ok", "is_error": False}
        ]
        emit(
            {
                "type": "user",
                "message": {"role": "user", "content": content},
                "session_id": session_id,
            }
        )
    if "sleep" in directives:
        deadline = time.monotonic() + float(directives["sleep"] or 1)
        while (left := deadline - time.monotonic()) > 0:
            time.sleep(min(1.0, left))
            emit(assistant(session_id, [{"type": "thinking", "thinking": "..."}]))
    if "longline" in directives:
        size = int(directives["longline"])
        prefix = json.dumps(assistant(session_id, [{"type": "text", "text": "@"}])).encode()
        head, tail = prefix.split(b"@", 1)
        raw(head + b"x" * max(0, size - len(head) - len(tail)) + tail)
    if garbage:
        raw(b"")
        raw(b'{"type": "stream_event", "event": {"delta": "unknown"}}')


def flood(session_id: str, megabytes: float) -> str:
    """Write ``megabytes`` of assistant lines fast; return the last text, as the CLI does."""
    text = ""
    written = 0
    counter = 0
    while written < megabytes * 1024 * 1024:
        counter += 1
        text = f"{counter:08d}" + "y" * (64 * 1024)
        line = json.dumps(assistant(session_id, [{"type": "text", "text": text}])).encode() + b"\n"
        sys.stdout.buffer.write(line)
        written += len(line)
    sys.stdout.buffer.flush()
    return text


VERSION = "2.1.328-fake (Claude Code)"


def main() -> int:
    if "--version" in sys.argv[1:]:
        print(VERSION)
        return 0
    flags = parse_args(sys.argv[1:])
    message = sys.stdin.read()
    directives, text = parse_directives(message)
    state = Path(os.environ["HOME"]) / ".fake-claude"
    state.mkdir(parents=True, exist_ok=True)
    (state / "last.pid").write_text(str(os.getpid()))
    exit_code = prologue(directives, message, state)
    if exit_code is not None:
        return exit_code
    return conversation(flags, directives, text, state)


def prologue(directives: dict[str, str], message: str, state: Path) -> int | None:
    """Directives that act before any output; an exit code ends the run early."""
    if "ignore-term" in directives:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if "pidfile" in directives:
        (state / "pid").write_text(str(os.getpid()))
    if "dump-env" in directives:
        dump = {
            "env": dict(os.environ),
            "argv": sys.argv,
            "cwd": str(Path.cwd()),
            "message": message,
        }
        (state / f"env-{os.getpid()}.json").write_text(json.dumps(dump))
    if "exit" in directives:
        code, _, err = directives["exit"].partition(" ")
        sys.stderr.write(err + "\n")
        return int(code)
    return None


def conversation(flags: dict[str, str], directives: dict[str, str], text: str, state: Path) -> int:
    """One turn of a new or resumed conversation, printed as stream-json."""
    resume = flags.get("--resume")
    conversation = {"turns": 0, "cost": 0.0}
    if resume is not None:
        path = state / f"{resume}.json"
        if not path.exists():
            missing = f"No conversation found with session ID: {resume}"
            event = result(
                resume,
                "",
                is_error=True,
                subtype="error_during_execution",
                total_cost_usd=0,
                num_turns=0,
                duration_ms=0,
                errors=[missing],
                usage=dict.fromkeys(USAGE, 0),
                modelUsage={},
                stop_reason=None,
            )
            del event["result"], event["terminal_reason"]  # fixture 04 has neither
            del event["model_usage_since_last_result"]
            emit(event)
            sys.stderr.write(missing + "\n")
            return 1
        conversation = json.loads(path.read_text())
    session_id = resume or str(uuid.uuid4())
    emit(
        {
            "type": "system",
            "subtype": "init",
            "cwd": str(Path.cwd()),
            "session_id": session_id,
            "tools": ["Bash", "Edit", "Read", "Write"],
            "model": flags.get("--model", "fake-model"),
            "permissionMode": flags.get("--permission-mode", "default"),
            "apiKeySource": "none" if "notloggedin" in directives else "ANTHROPIC_API_KEY",
            "claude_code_version": "2.1.328-fake",
        }
    )
    if "notloggedin" in directives:
        login = "Not logged in · Please run /login"
        event = assistant(session_id, [{"type": "text", "text": login}])
        event.update({"error": "authentication_failed", "is_api_error_message": True})
        emit(event)
        emit(
            result(
                session_id,
                login,
                is_error=True,
                subtype="success",
                total_cost_usd=0,
                modelUsage={},
                model_usage_since_last_result={},
                terminal_reason="api_error",
                stop_reason="stop_sequence",
            )
        )
        return 1
    if "grandchild" in directives or "grandchild-ignore-term" in directives:
        fork_grandchild(state, ignore_term="grandchild-ignore-term" in directives)
    emit(assistant(session_id, [{"type": "text", "text": "Working on it."}]))
    if "crash" in directives:
        return 3
    stdout_lines(session_id, directives)
    while "hang" in directives:
        time.sleep(3600)

    turn = int(conversation["turns"]) + 1
    cost = float(conversation["cost"]) + COST
    cumulative = "cumulative-cost" in directives
    reply = f"turn {turn}: {text[:200]}"
    if "flood" in directives:
        reply = flood(session_id, float(directives["flood"]))
    if "surrogate" in directives:
        reply += " \ud800"  # JSON may carry a lone surrogate, which UTF-8 cannot encode
    denials = [
        {
            "tool_name": name,
            "tool_use_id": f"toolu_{uuid.uuid4().hex[:18]}",
            "tool_input": {"command": "rm -rf build"} if name == "Bash" else {"file_path": "x.txt"},
        }
        for name in filter(None, directives.get("deny", "").split(","))
    ]
    tools = len(list(filter(None, directives.get("tools", "").split(","))))
    emit(assistant(session_id, [{"type": "text", "text": reply}]))
    (state / f"{session_id}.json").write_text(json.dumps({"turns": turn, "cost": cost}))
    emit(
        result(
            session_id,
            reply,
            is_error=False,
            subtype="success",
            num_turns=1 + tools,
            permission_denials=denials,
            total_cost_usd=cost if cumulative else COST,
            modelUsage=model_usage(cost, turn) if cumulative else model_usage(COST),
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
