"""Real turns against the fake ``claude``: replies, limits, kills, and no orphans."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import attrs
import psutil
import pytest

from orch_core._claude_cli import Activity, TurnReport
from orch_core._claude_invocation import agent_environment, build_argv
from orch_shell._process_group import kill_stale_group
from orch_shell._turn_process import RunningTurn, TurnLaunch, start_turn

pytestmark = pytest.mark.timeout(60)

FAKE = Path(__file__).resolve().parents[1] / "fake_claude.py"
MiB = 1024 * 1024


def is_gone(pid: int) -> bool:
    """Gone or a zombie: nothing left that could run."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


async def eventually_gone(pid: int, within: float = 6.0) -> bool:
    deadline = time.monotonic() + within
    while not is_gone(pid):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


def pid_in(path: Path) -> int | None:
    text = path.read_text() if path.exists() else ""
    return int(text) if text else None


async def read_pid(path: Path, within: float = 10.0) -> int:
    deadline = time.monotonic() + within
    while (pid := pid_in(path)) is None:
        assert time.monotonic() < deadline, f"{path} never appeared"
        await asyncio.sleep(0.05)
    return pid


def launch(
    home: Path, message: str, *, resume_id: str | None = None, **limits: float
) -> TurnLaunch:
    settings: dict[str, float] = {
        "timeout_seconds": 30,
        "kill_grace_seconds": 1,
        "max_line_bytes": 8 * MiB,
        "max_reply_bytes": MiB,
        "stderr_tail_bytes": 4096,
        "max_output_bytes": 128 * MiB,
    }
    settings.update(limits)
    environ = {**os.environ, "HOME": str(home), "ORCH_TOKEN": "secret", "CLAUDECODE": "1"}
    return TurnLaunch(
        argv=build_argv(
            [str(FAKE)], resume_id=resume_id, model="m1", permission_mode="plan", role="Be brief."
        ),
        cwd=str(home),
        message=message,
        env=agent_environment(environ),
        timeout_seconds=settings["timeout_seconds"],
        kill_grace_seconds=settings["kill_grace_seconds"],
        max_line_bytes=int(settings["max_line_bytes"]),
        max_reply_bytes=int(settings["max_reply_bytes"]),
        stderr_tail_bytes=int(settings["stderr_tail_bytes"]),
        max_output_bytes=int(settings["max_output_bytes"]),
    )


async def start(spec: TurnLaunch, seen: list[Activity] | None = None) -> RunningTurn:
    result = await start_turn(spec, (seen if seen is not None else []).append)
    return result.unwrap()


async def turn(spec: TurnLaunch, seen: list[Activity] | None = None) -> TurnReport:
    return await (await start(spec, seen)).wait()


async def test_a_turn_replies_and_reports_cost_usage_and_activity(tmp_path: Path) -> None:
    seen: list[Activity] = []
    report = await turn(launch(tmp_path, "Say hello."), seen)
    assert report.outcome == "completed"
    assert report.reply == "turn 1: Say hello."
    assert (report.error, report.exit_code) == (None, 0)
    assert report.cost_usd == pytest.approx(0.0125)
    assert (report.usage.input_tokens, report.usage.output_tokens) == (100, 20)
    assert report.claude_session_id
    assert Activity(kind="writing", description="writing") in seen


async def test_resume_continues_the_conversation(tmp_path: Path) -> None:
    first = await turn(launch(tmp_path, "one"))
    second = await turn(launch(tmp_path, "two", resume_id=first.claude_session_id))
    assert second.reply == "turn 2: two"
    assert second.claude_session_id == first.claude_session_id
    assert first.cost_usd + second.cost_usd == pytest.approx(0.025)


async def test_resumed_turns_report_their_own_cost_not_the_running_total(tmp_path: Path) -> None:
    first = await turn(launch(tmp_path, "#cumulative-cost\none"))
    resume_id = first.claude_session_id
    second = await turn(launch(tmp_path, "#cumulative-cost\ntwo", resume_id=resume_id))
    third = await turn(launch(tmp_path, "#cumulative-cost\nthree", resume_id=resume_id))
    assert third.reply == "turn 3: three"  # the CLI's running total is 0.0375 by now
    assert [r.cost_usd for r in (first, second, third)] == pytest.approx([0.0125] * 3)


def fake_result(home: Path, message: str, *resume: str) -> dict[str, object]:
    argv = [str(FAKE), "-p", "--output-format", "stream-json", "--verbose"]
    argv += ["--resume", *resume] if resume else []
    env = {"HOME": str(home), "PATH": os.environ["PATH"]}
    done = subprocess.run(argv, input=message, capture_output=True, env=env, check=True, text=True)
    results: list[dict[str, object]] = [
        e for e in map(json.loads, done.stdout.splitlines()) if e["type"] == "result"
    ]
    return results[-1]


def test_the_fake_prints_the_running_total_like_the_real_cli(tmp_path: Path) -> None:
    first = fake_result(tmp_path, "#cumulative-cost\none")
    second = fake_result(tmp_path, "#cumulative-cost\ntwo", str(first["session_id"]))
    plain = fake_result(tmp_path, "three", str(first["session_id"]))
    assert second["total_cost_usd"] == pytest.approx(0.025)  # as fixture 02
    for event in (first, second, plain):
        since = event["model_usage_since_last_result"]
        assert isinstance(since, dict)
        assert [m["costUSD"] for m in since.values()] == pytest.approx([0.0125])
    assert plain["total_cost_usd"] == pytest.approx(0.0125)


async def test_an_unknown_resume_id_fails_with_the_cli_message(tmp_path: Path) -> None:
    report = await turn(launch(tmp_path, "hi", resume_id="no-such-id"))
    assert report.outcome == "failed"
    assert report.error == "No conversation found with session ID: no-such-id"
    assert report.exit_code == 1


async def test_the_agent_gets_the_message_on_stdin_and_no_server_secrets(tmp_path: Path) -> None:
    running = await start(launch(tmp_path, "#dump-env\nsecret plan ü"))
    await running.wait()
    dump = json.loads((tmp_path / ".fake-claude" / f"env-{running.pid}.json").read_text())
    assert dump["message"] == "#dump-env\nsecret plan ü"
    assert not [a for a in dump["argv"] if "secret plan" in a]
    assert dump["argv"][-6:] == [
        "--model", "m1", "--permission-mode", "plan", "--append-system-prompt", "Be brief.",
    ]  # fmt: skip
    assert "ORCH_TOKEN" not in dump["env"]
    assert "CLAUDECODE" not in dump["env"]
    assert dump["env"]["HOME"] == str(tmp_path)


async def test_tools_and_denials_are_counted_and_shown(tmp_path: Path) -> None:
    seen: list[Activity] = []
    report = await turn(launch(tmp_path, "#tools Edit,Bash\n#deny Bash\nbuild"), seen)
    assert report.outcome == "completed"
    assert report.tool_uses == 2
    assert report.num_turns == 3
    assert [d.tool_name for d in report.permission_denials] == ["Bash"]
    assert report.permission_denials[0].detail == "rm -rf build"
    assert [a.tool_name for a in seen if a.kind == "tool"] == ["Edit", "Bash"]


async def test_progress_updates_the_last_activity_while_running(tmp_path: Path) -> None:
    running = await start(launch(tmp_path, "#sleep 2\nthink"))
    await asyncio.sleep(1.5)
    assert running.last_activity is not None
    assert not running.done
    report = await running.wait()
    assert report.outcome == "completed"
    assert running.last_activity == Activity(kind="writing", description="writing")


async def test_a_hung_turn_that_ignores_term_is_killed_at_the_timeout(tmp_path: Path) -> None:
    spec = launch(tmp_path, "#hang\n#ignore-term", timeout_seconds=1, kill_grace_seconds=1)
    running = await start(spec)
    report = await running.wait()
    assert report.outcome == "timeout"
    assert report.exit_code == -signal.SIGKILL  # TERM was ignored, so the grace ran out
    assert report.claude_session_id  # the init arrived before the hang
    assert is_gone(running.pid)


async def test_a_hung_turn_that_honours_term_ends_on_term(tmp_path: Path) -> None:
    running = await start(launch(tmp_path, "#hang", timeout_seconds=1, kill_grace_seconds=10))
    report = await running.wait()
    assert (report.outcome, report.exit_code) == ("timeout", -signal.SIGTERM)


@pytest.mark.parametrize("directive", ["#grandchild", "#grandchild-ignore-term"])
async def test_cancel_kills_the_whole_group_including_a_grandchild(
    tmp_path: Path, directive: str
) -> None:
    running = await start(launch(tmp_path, f"{directive}\n#hang", kill_grace_seconds=1))
    grandchild = await read_pid(tmp_path / ".fake-claude" / "grandchild.pid")
    assert not is_gone(grandchild)
    report, again = await asyncio.gather(running.cancel(), running.wait())
    assert report.outcome == "cancelled"
    assert again == report
    assert await eventually_gone(grandchild)
    assert is_gone(running.pid)


async def test_a_finished_turn_leaves_no_orphan_in_its_group(tmp_path: Path) -> None:
    report = await turn(launch(tmp_path, "#grandchild-ignore-term\nhi"))
    grandchild = int((tmp_path / ".fake-claude" / "grandchild.pid").read_text())
    assert report.outcome == "completed"
    assert report.reply == "turn 1: hi"
    assert await eventually_gone(grandchild)


async def test_cancel_after_the_end_keeps_the_real_outcome(tmp_path: Path) -> None:
    running = await start(launch(tmp_path, "hi"))
    report = await running.wait()
    assert await running.cancel() == report
    assert report.outcome == "completed"


async def test_a_crash_without_a_result_fails_with_the_exit_code(tmp_path: Path) -> None:
    running = await start(launch(tmp_path, "#crash"))
    report = await running.wait()
    assert running.saw_init
    assert report.outcome == "failed"
    assert report.error == "claude exited with code 3 without a result"
    assert report.exit_code == 3


async def test_an_early_exit_fails_with_the_stderr_tail(tmp_path: Path) -> None:
    report = await turn(launch(tmp_path, "#exit 7 Error: bad flag", stderr_tail_bytes=9))
    assert (report.outcome, report.exit_code) == ("failed", 7)
    assert report.error == "bad flag"  # only the tail is kept


async def test_not_logged_in_fails_with_the_cli_text(tmp_path: Path) -> None:
    report = await turn(launch(tmp_path, "#notloggedin"))
    assert report.outcome == "failed"
    assert report.error == "Not logged in · Please run /login"
    assert report.exit_code == 1


async def test_garbage_lines_and_unknown_events_are_skipped(tmp_path: Path) -> None:
    report = await turn(launch(tmp_path, "#garbage\n#tools Read\nhi"))
    assert (report.outcome, report.reply, report.tool_uses) == ("completed", "turn 1: hi", 1)


async def test_a_flood_stays_out_of_memory_and_an_oversized_reply_fails(tmp_path: Path) -> None:
    me = psutil.Process()
    before = me.memory_info().rss
    peak = before

    def sample(_: Activity) -> None:
        nonlocal peak
        peak = max(peak, me.memory_info().rss)

    running = await start_turn(launch(tmp_path, "#flood 50", max_reply_bytes=1024), sample)
    report = await running.unwrap().wait()
    assert report.outcome == "failed"
    assert report.error == "the reply exceeded 1024 bytes"
    assert report.reply == ""
    assert peak - before < 20 * MiB  # the 50 MiB went through, not into memory


async def test_a_line_over_the_limit_stops_the_turn(tmp_path: Path) -> None:
    spec = launch(tmp_path, "#longline 3000000\n#hang", max_line_bytes=MiB)
    running = await start(spec)
    report = await running.wait()
    assert report.outcome == "failed"
    assert report.error == "a line exceeded 1048576 bytes (claude.max_line_bytes)"
    assert is_gone(running.pid)


async def test_a_flood_of_valid_lines_over_the_output_cap_stops_the_turn(tmp_path: Path) -> None:
    running = await start(launch(tmp_path, "#flood 5", max_output_bytes=MiB))
    report = await running.wait()
    assert report.outcome == "failed"
    assert report.error == "the output exceeded 1048576 bytes (claude.max_output_bytes)"
    assert report.reply == ""
    assert report.exit_code == -signal.SIGTERM  # stopped mid-flood, not finished
    assert is_gone(running.pid)


async def test_output_under_the_cap_is_fine(tmp_path: Path) -> None:
    report = await turn(launch(tmp_path, "#flood 5", max_output_bytes=6 * MiB))
    assert report.outcome == "completed"
    assert report.reply.endswith("y" * 64)


async def test_a_long_line_within_the_limit_is_fine(tmp_path: Path) -> None:
    report = await turn(launch(tmp_path, "#longline 1048576\nhi", max_line_bytes=MiB))
    assert (report.outcome, report.reply) == ("completed", "turn 1: hi")


async def test_a_missing_executable_is_a_clear_failure(tmp_path: Path) -> None:
    spec = launch(tmp_path, "hi")
    missing = attrs.evolve(spec, argv=("/nonexistent/claude", "-p"))
    failure = (await start_turn(missing, lambda _: None)).failure()
    assert failure.kind == "not_found"
    assert failure.message == "claude command not found: /nonexistent/claude"


async def test_a_missing_working_folder_is_a_clear_failure(tmp_path: Path) -> None:
    spec = attrs.evolve(launch(tmp_path, "hi"), cwd=str(tmp_path / "gone"))
    failure = (await start_turn(spec, lambda _: None)).failure()
    assert (failure.kind, failure.message) == ("bad_cwd", f"no such folder: {tmp_path / 'gone'}")


async def test_a_message_larger_than_the_pipe_buffer_arrives_whole(tmp_path: Path) -> None:
    body = "x" * (4 * MiB)
    report = await turn(launch(tmp_path, body))
    assert (report.outcome, report.reply) == ("completed", f"turn 1: {body[:200]}")


def test_kill_stale_group_spares_a_reused_pid_and_kills_a_matching_one() -> None:
    process = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        started = psutil.Process(process.pid).create_time()
        assert not kill_stale_group(process.pid, process.pid, started + 5, grace_seconds=0.5)
        assert process.poll() is None
        assert kill_stale_group(process.pid, process.pid, started, grace_seconds=0.5)
        assert process.wait(timeout=5) == -signal.SIGTERM
    finally:
        process.kill()
        process.wait()


def test_kill_stale_group_kills_members_left_after_the_leader() -> None:
    with subprocess.Popen(
        ["sh", "-c", "sleep 60 & echo $!"],
        start_new_session=True,
        stdout=subprocess.PIPE,
        text=True,
    ) as leader:
        assert leader.stdout is not None
        member = int(leader.stdout.readline())
        started = psutil.Process(leader.pid).create_time()
        leader.wait()
    assert is_gone(leader.pid)
    assert not is_gone(member)
    assert kill_stale_group(leader.pid, leader.pid, started, grace_seconds=0.5)
    assert is_gone(member)
    assert not kill_stale_group(leader.pid, leader.pid, started, grace_seconds=0.5)
