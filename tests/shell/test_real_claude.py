"""One turn of the real Claude Code CLI, logged out, through the real runtime.

This pins the protocol to the CLI rather than to our fake: with an empty HOME and
no ``ANTHROPIC_*`` variables the CLI must still print ``init`` and end with the
"Not logged in" result, which the parser must read as a failed turn. The CLI is
the one ``tests/package.json`` pins (``npm ci --prefix tests``; CI does this), or
``ORCH_REAL_CLAUDE`` when set; a missing CLI fails the test (see ``tests/npm_bins.py``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from orch_core._claude_invocation import agent_environment, build_argv
from orch_shell._turn_process import TurnLaunch, start_turn
from tests.npm_bins import real_claude

pytestmark = [pytest.mark.real_claude, pytest.mark.timeout(120)]


def find_claude() -> str:
    """``ORCH_REAL_CLAUDE`` when set (it must then be runnable), else the pinned CLI."""
    override = os.environ.get("ORCH_REAL_CLAUDE")
    if not override:
        return str(real_claude())
    if not (Path(override).is_file() and os.access(override, os.X_OK)):
        pytest.fail(f"ORCH_REAL_CLAUDE={override} is not an executable file", pytrace=False)
    return override


async def test_a_logged_out_cli_fails_the_turn_with_its_own_message(tmp_path: Path) -> None:
    claude = find_claude()
    home = tmp_path / "home"
    project = tmp_path / "project"
    home.mkdir()
    project.mkdir()
    environ = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("ANTHROPIC_", "CLAUDE_", "XDG_"))
    }
    launch = TurnLaunch(
        argv=build_argv(
            [claude], resume_id=None, model=None, permission_mode=None, role="Be brief."
        ),
        cwd=str(project),
        message="Say hello.",
        env={**agent_environment(environ), "HOME": str(home)},
        timeout_seconds=90,
        kill_grace_seconds=5,
        max_line_bytes=8 * 1024 * 1024,
        max_reply_bytes=1024 * 1024,
        stderr_tail_bytes=8192,
    )
    running = (await start_turn(launch, lambda _: None)).unwrap()
    report = await running.wait()
    assert running.saw_init
    assert report.claude_session_id
    assert report.outcome == "failed"
    assert report.error is not None
    assert "Not logged in" in report.error
    assert report.exit_code == 1
