"""The stream-json parser against the real CLI's recorded output, plus argv and env rules."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orch_core._claude_cli import (
    Activity,
    ModelUsage,
    PermissionDenial,
    StreamParser,
    TurnReport,
    Usage,
)
from orch_core._claude_invocation import agent_environment, build_argv

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "claude-cli-2.1.328"
MAX_REPLY = 1 << 20


def lines_of(name: str) -> list[bytes]:
    return (FIXTURES / name).read_bytes().splitlines()


def run(
    lines: list[bytes], *, exit_code: int = 0, stderr: str = "", max_reply: int = MAX_REPLY
) -> tuple[StreamParser, list[Activity], TurnReport]:
    parser = StreamParser(max_reply_bytes=max_reply)
    activities = [a for a in map(parser.feed_line, lines) if a is not None]
    return parser, activities, parser.finish(exit_code=exit_code, stderr_tail=stderr)


def test_reply_fixture_completes_with_the_result_text_cost_and_usage() -> None:
    parser, activities, report = run(lines_of("01-reply.jsonl"))
    assert parser.saw_init
    assert report.outcome == "completed"
    assert report.reply == "Hello. Ready to review."
    assert report.error is None
    assert report.claude_session_id == "f462c138-d74a-4edb-81f3-c7e949399d0f"
    assert report.cost_usd == pytest.approx(0.005208)
    assert (report.duration_ms, report.num_turns, report.exit_code) == (184, 1, 0)
    assert report.usage == Usage(
        input_tokens=1242,
        output_tokens=12,
        cache_read_input_tokens=0,
        cache_creation_input_tokens=0,
    )
    assert report.permission_denials == ()
    assert activities == [Activity(kind="writing", description="writing")]


def test_resume_fixture_keeps_the_conversation_id() -> None:
    _, _, first = run(lines_of("01-reply.jsonl"))
    _, _, second = run(lines_of("02-resume.jsonl"))
    assert second.outcome == "completed"
    assert second.claude_session_id == first.claude_session_id


def result_of(name: str) -> dict[str, object]:
    events = [json.loads(line) for line in lines_of(name)]
    return next(e for e in events if e.get("type") == "result")


def test_each_fixture_turn_reports_its_own_cost_not_the_running_total() -> None:
    _, _, first = run(lines_of("01-reply.jsonl"))
    _, _, second = run(lines_of("02-resume.jsonl"))
    assert first.cost_usd == pytest.approx(0.005208)
    assert second.cost_usd == pytest.approx(0.00522)
    # 2.1.328's total_cost_usd on resume is the conversation's running total
    assert result_of("02-resume.jsonl")["total_cost_usd"] == pytest.approx(0.010428)
    assert first.cost_usd + second.cost_usd == pytest.approx(0.010428)


def test_resume_fixture_token_usage_is_the_turns_own() -> None:
    _, _, second = run(lines_of("02-resume.jsonl"))
    assert (second.usage.input_tokens, second.usage.output_tokens) == (1245, 12)


def cost_of(result: dict[str, object]) -> float:
    event = {"type": "result", "is_error": False, "result": "ok", **result}
    return run([json.dumps(event).encode()])[2].cost_usd


def test_the_turn_cost_sums_every_model_used_since_the_last_result() -> None:
    since = {"opus": {"costUSD": 0.5}, "haiku": {"costUSD": 0.25}, "odd": "not a model"}
    assert cost_of({"total_cost_usd": 9.0, "model_usage_since_last_result": since}) == 0.75


def test_an_empty_model_usage_since_last_result_means_the_turn_cost_nothing() -> None:
    assert cost_of({"total_cost_usd": 9.0, "model_usage_since_last_result": {}}) == 0.0


@pytest.mark.parametrize("since", [None, [], "0.1", 3])
def test_without_a_model_usage_dict_the_total_cost_is_the_turn_cost(since: object) -> None:
    result: dict[str, object] = {"total_cost_usd": 0.25}
    if since is not None:
        result["model_usage_since_last_result"] = since
    assert cost_of(result) == 0.25


def test_tool_use_fixture_counts_tools_and_shows_the_tool_as_activity() -> None:
    _, activities, report = run(lines_of("03-tool-use.jsonl"))
    assert report.outcome == "completed"
    assert report.reply == "The build printed: built"
    assert report.tool_uses == 1
    assert report.num_turns == 2
    assert activities == [
        Activity(kind="tool", description="using tool Bash", tool_name="Bash"),
        Activity(kind="writing", description="writing"),
    ]


def test_bad_resume_fixture_fails_with_the_missing_conversation_message() -> None:
    stderr = (FIXTURES / "04-bad-resume.stderr").read_text()
    parser, _, report = run(lines_of("04-bad-resume.jsonl"), exit_code=1, stderr=stderr)
    assert not parser.saw_init
    assert report.outcome == "failed"
    expected = "No conversation found with session ID: 00000000-0000-0000-0000-000000000000"
    assert report.error == expected
    assert report.exit_code == 1


def test_not_logged_in_fixture_fails_with_the_cli_text_despite_subtype_success() -> None:
    parser, _, report = run(lines_of("05-not-logged-in.jsonl"), exit_code=1)
    assert parser.saw_init
    assert report.outcome == "failed"
    assert report.error == "Not logged in · Please run /login"
    assert report.reply == ""


def test_a_success_result_with_a_nonzero_exit_is_a_failure() -> None:
    _, _, report = run(lines_of("01-reply.jsonl"), exit_code=2, stderr="segfault\n")
    assert report.outcome == "failed"
    assert report.error == "claude exited with code 2 after a success result: segfault"


def test_no_result_fails_with_the_stderr_tail_or_the_exit_code() -> None:
    init = lines_of("01-reply.jsonl")[:2]
    _, _, with_stderr = run(init, exit_code=1, stderr="  boom \n")
    _, _, silent = run(init, exit_code=3)
    assert (with_stderr.outcome, with_stderr.error) == ("failed", "boom")
    assert silent.error == "claude exited with code 3 without a result"
    assert silent.claude_session_id == "f462c138-d74a-4edb-81f3-c7e949399d0f"


@pytest.mark.parametrize(
    ("flags", "outcome", "error"),
    [
        ({"timed_out": True}, "timeout", "the turn timed out; its processes were stopped"),
        ({"cancelled": True}, "cancelled", "the turn was cancelled; its processes were stopped"),
        ({"overflow": "a line exceeded 10 bytes"}, "failed", "a line exceeded 10 bytes"),
    ],
)
def test_what_the_shell_saw_outranks_a_success_result(
    flags: dict[str, object], outcome: str, error: str
) -> None:
    parser = StreamParser(max_reply_bytes=MAX_REPLY)
    for line in lines_of("01-reply.jsonl"):
        parser.feed_line(line)
    report = parser.finish(exit_code=-9, stderr_tail="", **flags)  # type: ignore[arg-type]
    assert (report.outcome, report.error, report.reply) == (outcome, error, "")
    assert report.claude_session_id == "f462c138-d74a-4edb-81f3-c7e949399d0f"


def test_a_reply_over_the_limit_fails_cleanly() -> None:
    _, _, report = run(lines_of("01-reply.jsonl"), max_reply=10)
    assert (report.outcome, report.reply) == ("failed", "")
    assert report.error == "the reply exceeded 10 bytes"


def test_the_latest_result_id_wins_over_init() -> None:
    lines = [
        b'{"type":"system","subtype":"init","session_id":"old"}',
        b'{"type":"result","is_error":false,"result":"ok","session_id":"new"}',
    ]
    parser, _, report = run(lines)
    assert report.claude_session_id == "new" == parser.claude_session_id


def test_permission_denials_keep_the_tool_and_a_short_summary() -> None:
    denials = [
        {"tool_name": "Bash", "tool_use_id": "t1", "tool_input": {"command": "rm -rf /"}},
        {"tool_name": "Write", "tool_input": {"content": "x" * 1000}},
        "not an object",
    ]
    event = {"type": "result", "is_error": False, "result": "ok", "permission_denials": denials}
    _, _, report = run([json.dumps(event).encode()])
    assert report.permission_denials[0] == PermissionDenial(tool_name="Bash", detail="rm -rf /")
    assert report.permission_denials[1].tool_name == "Write"
    assert len(report.permission_denials[1].detail) == 200
    assert len(report.permission_denials) == 2


@pytest.mark.parametrize("cost", ["1e999", "NaN", "1" + "0" * 400, '"12"', "true"])
def test_a_nonsense_cost_reads_as_zero(cost: str) -> None:
    line = f'{{"type":"result","is_error":false,"result":"ok","total_cost_usd":{cost}}}'
    _, _, report = run([line.encode()])
    assert report.outcome == "completed"
    assert report.cost_usd == 0.0
    since = f'{{"m":{{"costUSD":{cost}}}}}'
    line = f'{{"type":"result","is_error":false,"model_usage_since_last_result":{since}}}'
    assert run([line.encode()])[2].cost_usd == 0.0


def test_model_costs_that_overflow_when_summed_read_as_zero() -> None:
    since = {"a": {"costUSD": 1e308}, "b": {"costUSD": 1e308}}
    assert cost_of({"model_usage_since_last_result": since}) == 0.0


@given(st.lists(st.binary(max_size=200), max_size=20))
def test_arbitrary_byte_lines_never_raise(lines: list[bytes]) -> None:
    run([*lines, b"[" * 100_000])


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=20,
)
KNOWN = st.sampled_from(["system", "assistant", "user", "result"])


@given(JSON)
def test_any_model_usage_reads_as_a_finite_cost(since: object) -> None:
    cost = cost_of({"model_usage_since_last_result": {"m": {"costUSD": since}, "n": since}})
    assert math.isfinite(cost)


@given(st.lists(st.dictionaries(st.just("type"), KNOWN) | st.just({}), max_size=5), JSON)
def test_malformed_known_events_never_raise(heads: list[dict[str, str]], body: object) -> None:
    lines = []
    for head in heads:
        event = dict(body) if isinstance(body, dict) else {"message": body}
        event.update(head, message=body, subtype="init", result=body, usage=body, session_id=body)
        lines.append(json.dumps(event).encode())
    run(lines, exit_code=1)


@given(st.text(min_size=1).filter(lambda t: t not in {"system", "assistant", "user", "result"}))
def test_unknown_event_types_are_ignored(kind: str) -> None:
    stranger = json.dumps({"type": kind, "result": "nope", "is_error": True}).encode()
    base = lines_of("01-reply.jsonl")
    with_stranger = [base[0], stranger, *base[1:], stranger]
    assert run(with_stranger)[1:] == run(base)[1:]


def test_build_argv_puts_every_option_in_order_and_never_the_message() -> None:
    argv = build_argv(
        ["node", "cli.js"], resume_id="s1", model="opus", permission_mode="plan", role="Be brief."
    )
    assert argv == (
        "node", "cli.js", "-p", "--output-format", "stream-json", "--verbose",
        "--resume", "s1", "--model", "opus", "--permission-mode", "plan",
        "--append-system-prompt", "Be brief.",
    )  # fmt: skip


def test_build_argv_leaves_out_what_is_not_set() -> None:
    argv = build_argv(["claude"], resume_id=None, model=None, permission_mode=None, role="")
    assert argv == ("claude", "-p", "--output-format", "stream-json", "--verbose")


def test_agent_environment_allows_the_cli_needs_and_drops_server_secrets() -> None:
    environ = {
        "HOME": "/h", "PATH": "/bin", "LC_CTYPE": "C.UTF-8", "ANTHROPIC_BASE_URL": "u",
        "https_proxy": "p", "NO_PROXY": "n", "CLAUDE_CODE_USE_BEDROCK": "1",
        "DISABLE_TELEMETRY": "1", "XDG_CONFIG_HOME": "/x", "CLAUDE_CONFIG_DIR": "/c",
        "CLAUDECODE": "1", "ORCH_TOKEN": "secret", "ORCH_SIGNING_KEY": "k",
        "AWS_SECRET_ACCESS_KEY": "s", "PYTHONPATH": "/p", "EXTRA": "e",
    }  # fmt: skip
    env = agent_environment(environ, extra_names=["EXTRA", "ORCH_TOKEN", "CLAUDECODE"])
    assert set(env) == {
        "HOME", "PATH", "LC_CTYPE", "ANTHROPIC_BASE_URL", "https_proxy", "NO_PROXY",
        "CLAUDE_CODE_USE_BEDROCK", "DISABLE_TELEMETRY", "XDG_CONFIG_HOME",
        "CLAUDE_CONFIG_DIR", "EXTRA",
    }  # fmt: skip
    assert env["HOME"] == "/h"


@given(st.dictionaries(st.text(min_size=1), st.text()), st.lists(st.text(min_size=1)))
def test_no_orch_name_or_claudecode_ever_reaches_an_agent(
    environ: dict[str, str], extra: list[str]
) -> None:
    env = agent_environment(environ, extra_names=[*extra, *environ])
    assert not [name for name in env if name.startswith("ORCH_") or name == "CLAUDECODE"]


def test_each_fixture_turn_reports_its_cost_and_tokens_by_model() -> None:
    _, _, first = run(lines_of("01-reply.jsonl"))
    _, _, second = run(lines_of("02-resume.jsonl"))
    assert first.models == (
        ModelUsage(model="claude-opus-5-5", cost_usd=0.005208, usage=first.usage),
    )
    # On resume the per-model numbers are this turn's, not the conversation's.
    assert second.models == (
        ModelUsage(
            model="claude-opus-5-5",
            cost_usd=0.00522,
            usage=Usage(input_tokens=1245, output_tokens=12),
        ),
    )


def test_without_per_model_usage_the_turn_goes_on_the_model_init_named() -> None:
    init = {"type": "system", "subtype": "init", "session_id": "s", "model": "claude-haiku-9"}
    result = {"type": "result", "is_error": False, "result": "ok", "total_cost_usd": 0.5,
              "usage": {"input_tokens": 3, "output_tokens": 4}}  # fmt: skip
    report = run([json.dumps(init).encode(), json.dumps(result).encode()])[2]
    assert report.models == (
        ModelUsage(
            model="claude-haiku-9", cost_usd=0.5, usage=Usage(input_tokens=3, output_tokens=4)
        ),
    )


def test_a_turn_without_a_result_has_no_model_costs() -> None:
    assert run(lines_of("01-reply.jsonl")[:1], exit_code=1)[2].models == ()


@given(
    since=st.dictionaries(
        st.text(min_size=1, max_size=12),
        st.fixed_dictionaries(
            {
                "costUSD": st.floats(min_value=0, max_value=1e6),
                "inputTokens": st.integers(min_value=0, max_value=10**9),
            }
        ),
        max_size=4,
    )
)
def test_the_model_costs_add_up_to_the_turn_cost(since: dict[str, dict[str, object]]) -> None:
    event = {"type": "result", "is_error": False, "result": "ok", "total_cost_usd": 99.0,
             "model_usage_since_last_result": since}  # fmt: skip
    report = run([json.dumps(event).encode()])[2]
    assert sum(m.cost_usd for m in report.models) == pytest.approx(report.cost_usd)
    assert len(report.models) == len(since)
    assert all(m.model for m in report.models)
