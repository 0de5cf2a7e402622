"""One turn of the real Claude Code CLI, logged out, through the real runtime.

This pins the protocol to the CLI rather than to our fake: with an empty HOME and
no ``ANTHROPIC_*`` variables the CLI must still print ``init`` and end with the
"Not logged in" result, which the parser must read as a failed turn. Skipped only
when no CLI is installed (CI installs it under ``node_modules``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from orch_core._claude_cli import agent_environment, build_argv
from orch_shell._turn_process import TurnLaunch, start_turn

pytestmark = [pytest.mark.real_claude, pytest.mark.timeout(120)]

REPO = Path(__file__).resolve().parents[2]


def find_claude() -> str | None:
    """``ORCH_REAL_CLAUDE``, then ``node_modules/.bin/claude`` in the repo, then PATH."""
    candidates = [
        os.environ.get("ORCH_REAL_CLAUDE"),
        str(REPO / "node_modules" / ".bin" / "claude"),
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("claude")


async def test_a_logged_out_cli_fails_the_turn_with_its_own_message(tmp_path: Path) -> None:
    claude = find_claude()
    if claude is None:
        pytest.skip("no claude CLI: set ORCH_REAL_CLAUDE or run `npm install` in the repo")
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
