"""The installed ``orch`` script, run as a real subprocess, as a user would."""

from __future__ import annotations

import json
import os
import shlex
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ORCH = Path(sys.executable).parent / "orch"
VERSION_LINE = "2.1.328 (Claude Code)"


def _env(home: Path, path: str, **extra: str) -> dict[str, str]:
    keep = {name: value for name, value in os.environ.items() if not name.startswith("ORCH_")}
    return {**keep, "ORCH_HOME": str(home), "PATH": path, **extra}


def _run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a command to its end with stdin closed (``serve`` then stops at EOF)."""
    return subprocess.run(
        argv,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _orch(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return _run([str(ORCH), *args], env)


def _executable(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(0o755)
    return path


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "orch home"  # a space, as in macOS "Application Support"


@pytest.fixture
def fake_claude(tmp_path: Path) -> Path:
    """A claude that, like the npm one, needs `node` on PATH to start at all."""
    _executable(tmp_path / "node-bin" / "node", '#!/bin/sh\nexec /bin/sh "$@"\n')
    script = f'#!/usr/bin/env node\n[ "$1" = --version ] && echo "{VERSION_LINE}"\nexit 0\n'
    return _executable(tmp_path / "claude bin" / "claude", script)


@pytest.fixture
def fake_path(fake_claude: Path) -> str:
    return os.pathsep.join([str(fake_claude.parent), str(fake_claude.parent.parent / "node-bin")])


def test_init_twice_creates_then_reports_existing(home: Path) -> None:
    env = _env(home, os.defpath)
    first = _orch("init", env=env)
    assert first.returncode == 0, first.stderr
    assert f"created        {home / 'orch.toml'}" in first.stdout
    assert (home / "orch.toml").stat().st_mode & 0o777 == 0o600
    second = _orch("init", env=env)
    assert second.returncode == 0, second.stderr
    assert f"already there  {home / 'orch.toml'}" in second.stdout
    assert "created" not in second.stdout


def test_serve_with_bad_config_exits_2_and_keeps_stdout_clean(home: Path) -> None:
    home.mkdir()
    (home / "orch.toml").write_text("[claude]\nturn_timeout_seconds = -1\n", encoding="utf-8")
    result = _orch("serve", env=_env(home, os.defpath))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("orch: config error: claude.turn_timeout_seconds: ")
    assert "greater than 0" in result.stderr


def test_claude_desktop_config_entry_works_with_only_its_own_env(
    home: Path, fake_claude: Path, fake_path: str
) -> None:
    """Claude Desktop gives servers a bare environment: the printed env must suffice."""
    result = _orch("claude-desktop-config", env=_env(home, fake_path))
    assert result.returncode == 0, result.stderr
    server = json.loads(result.stdout)["mcpServers"]["orch"]
    assert server["command"] == str(ORCH)
    assert server["args"] == ["serve"]
    env = server["env"]
    assert env["ORCH_HOME"] == str(home)
    assert env["ORCH_TOKEN_FILE"] == str(home / "token")
    assert shlex.split(env["ORCH_CLAUDE_COMMAND"]) == [str(fake_claude)]
    assert env["PATH"].split(os.pathsep)[:2] == fake_path.split(os.pathsep)
    assert all(Path(entry).is_absolute() for entry in env["PATH"].split(os.pathsep))

    assert _orch("init", env=_env(home, fake_path)).returncode == 0
    # Nothing but the entry's env: no HOME, no user PATH.
    doctor = _run([server["command"], *server["args"][:-1], "doctor"], env)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert VERSION_LINE in doctor.stdout
    # And the server itself starts, authenticated by the token file, and stops at EOF.
    served = _run([server["command"], *server["args"]], env)
    assert served.returncode == 0, served.stderr
    assert served.stdout == ""


def test_claude_desktop_config_without_claude_warns_but_prints(home: Path, tmp_path: Path) -> None:
    result = _orch("claude-desktop-config", env=_env(home, str(tmp_path / "empty")))
    assert result.returncode == 0
    env = json.loads(result.stdout)["mcpServers"]["orch"]["env"]
    assert "ORCH_CLAUDE_COMMAND" not in env
    assert "'claude' was not found" in result.stderr
    assert "orch doctor" in result.stderr


def test_doctor_passes_with_a_working_claude(home: Path, fake_path: str) -> None:
    env = _env(home, fake_path, HOME=str(home.parent))  # no Claude Desktop config there
    assert _orch("init", env=env).returncode == 0
    result = _orch("doctor", env=env)
    assert result.returncode == 0, result.stdout
    lines = [line for line in result.stdout.splitlines() if not line.startswith(" ")]
    assert [line.split()[0] for line in lines] == ["ok"] * 8
    assert f"claude version: {VERSION_LINE}" in result.stdout


def test_doctor_fails_with_a_hint_when_claude_is_missing(home: Path, tmp_path: Path) -> None:
    env = _env(home, str(tmp_path / "empty"))
    assert _orch("init", env=env).returncode == 0
    result = _orch("doctor", env=env)
    assert result.returncode == 1
    assert "FAIL  claude: 'claude' not found on PATH" in result.stdout
    assert "hint: install Claude Code" in result.stdout


def test_doctor_fails_naming_the_bad_config_key(home: Path, fake_path: str) -> None:
    env = _env(home, fake_path)
    assert _orch("init", env=env).returncode == 0
    (home / "orch.toml").write_text("[limits]\nmax_agents = 3\n", encoding="utf-8")
    result = _orch("doctor", env=env)
    assert result.returncode == 1
    assert "FAIL  config: limits.max_agents: unknown setting" in result.stdout
    assert "hint: fix or delete `limits.max_agents`" in result.stdout
    assert f"claude version: {VERSION_LINE}" in result.stdout  # the other checks still ran


def test_doctor_fails_when_claude_version_fails(home: Path, tmp_path: Path) -> None:
    broken = _executable(
        tmp_path / "bin" / "claude", "#!/bin/sh\necho 'node: not found' >&2\nexit 127\n"
    )
    env = _env(home, str(broken.parent))
    assert _orch("init", env=env).returncode == 0
    result = _orch("doctor", env=env)
    assert result.returncode == 1
    assert "FAIL  claude version:" in result.stdout
    assert "exited 127: node: not found" in result.stdout


def test_doctor_checks_the_database(home: Path, fake_path: str) -> None:
    env = _env(home, fake_path)
    assert _orch("init", env=env).returncode == 0
    with sqlite3.connect(home / "orch.db") as connection:
        connection.execute("CREATE TABLE t (x)")
    connection.close()
    assert "ok    database:" in _orch("doctor", env=env).stdout
    (home / "orch.db").write_bytes(b"this is not a database" * 100)
    result = _orch("doctor", env=env)
    assert result.returncode == 1
    assert "FAIL  database:" in result.stdout
    assert "keep a copy" in result.stdout


def test_doctor_fails_when_data_dir_is_missing(home: Path, fake_path: str) -> None:
    result = _orch("doctor", env=_env(home, fake_path))
    assert result.returncode == 1
    assert f"FAIL  data dir: {home} is missing" in result.stdout
    assert "hint: run `orch init`" in result.stdout


def test_version_and_python_dash_m() -> None:
    script = _orch("--version", env=dict(os.environ))
    module = subprocess.run(
        [sys.executable, "-m", "orch_shell", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert script.returncode == module.returncode == 0
    assert script.stdout == module.stdout
    assert script.stdout.startswith("orch ")


def test_logging_goes_to_stderr_as_json_never_stdout() -> None:
    program = (
        "import logging, structlog\n"
        "from orch_shell._logging import configure_logging\n"
        "configure_logging('info')\n"
        "structlog.get_logger('orch').info('started', agents=2)\n"
        "structlog.get_logger('orch').debug('hidden')\n"
        "logging.getLogger('fastmcp').warning('from stdlib')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    records = [json.loads(line) for line in result.stderr.splitlines()]
    assert [(r["event"], r["level"]) for r in records] == [
        ("started", "info"),
        ("from stdlib", "warning"),
    ]
    assert records[0]["agents"] == 2
    assert records[1]["logger"] == "fastmcp"


def test_serve_logs_only_json_to_stderr_and_nothing_to_stdout(home: Path) -> None:
    """With stdin closed at once, serve starts and stops; every stderr line is JSON."""
    assert _orch("init", env=_env(home, os.defpath)).returncode == 0
    result = _orch("serve", env=_env(home, os.defpath, ORCH_TOKEN_FILE=str(home / "token")))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    records = [json.loads(line) for line in result.stderr.splitlines()]
    events = [(record["logger"], record["event"]) for record in records]
    assert ("orch.serve", "serving on stdio") in events
    assert events[-1] == ("orch.serve", "stopped")
