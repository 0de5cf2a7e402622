"""``orch doctor`` on each failure the README's troubleshooting list names.

Each test sets up a temporary HOME (where Claude Desktop's config and the
``claude`` login live) and ORCH_HOME with ``orch init``, breaks one thing, and
runs the real ``orch doctor``: the failing line and its hint are what a user
reads. "Not logged in" is checked against the real Claude Code CLI from npm.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orch_shell._desktop_config_file import Platform, claude_config_path
from orch_shell._doctor import run_checks
from orch_shell._keys import load_private_key, mint_token, write_private_text
from orch_shell._paths import resolve_paths
from tests.npm_bins import real_claude

pytestmark = pytest.mark.timeout(120)

ORCH = Path(sys.executable).parent / "orch"
LOGGED_IN = '{"loggedIn": true, "authMethod": "claude.ai", "apiProvider": "firstParty"}'
#: What the real CLI's `claude auth status` prints without credentials (exit 1).
LOGGED_OUT = '{"loggedIn": false, "authMethod": "none", "apiProvider": "firstParty"}'


def fake_claude(folder: Path, auth: str, auth_exit: int = 0) -> Path:
    """A ``claude`` answering ``--version`` and ``auth status`` like 2.1.x does."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "claude"
    script.write_text(
        "#!/bin/sh\n"
        'case "$1" in\n'
        '  --version) echo "2.1.332 (Claude Code)" ;;\n'
        f"  auth) echo '{auth}'; exit {auth_exit} ;;\n"
        "esac\n",
        encoding="utf-8",
    )
    script.chmod(0o755)
    return script


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A logged-in user with orch set up and its entry in Claude Desktop's config."""
    home = tmp_path / "home"
    home.mkdir()
    fake_claude(tmp_path / "bin", LOGGED_IN)
    env = {
        "HOME": str(home),
        "ORCH_HOME": str(home / "orch"),
        "PATH": os.pathsep.join([str(tmp_path / "bin"), "/usr/bin", "/bin"]),
        "LANG": "C.UTF-8",
    }
    assert doctor_run(["init"], env).returncode == 0
    written = doctor_run(["claude-desktop-config", "--write"], env)
    assert written.returncode == 0, written.stderr
    return env


def doctor_run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ORCH), *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def doctor(env: dict[str, str]) -> tuple[int, dict[str, str]]:
    """Exit code, and each check's line (with its hint line, if any) by name."""
    done = doctor_run(["doctor"], env)
    lines: dict[str, str] = {}
    name = ""
    for line in done.stdout.splitlines():
        if line.startswith("      hint: "):
            lines[name] += "\n" + line.strip()
        else:
            name = line[6:].split(":")[0]
            lines[name] = line
    return done.returncode, lines


def desktop_file(env: dict[str, str]) -> Path:
    return Path(env["HOME"]) / ".config" / "Claude" / "claude_desktop_config.json"


@pytest.mark.skipif(sys.platform != "linux", reason="Claude Desktop's Linux path")
def test_all_ok_when_set_up(env: dict[str, str]) -> None:
    code, lines = doctor(env)
    assert code == 0, lines
    assert [line.split()[0] for line in lines.values()] == ["ok"] * 8
    assert lines["claude login"] == "ok    claude login: logged in (claude.ai)"
    assert lines["desktop config"] == f"ok    desktop config: {desktop_file(env)}: orch runs {ORCH}"


def test_claude_not_installed(env: dict[str, str]) -> None:
    env["PATH"] = "/usr/bin:/bin"
    code, lines = doctor(env)
    assert code == 1
    assert lines["claude"].startswith("FAIL  claude: 'claude' not found on PATH\n")
    assert (
        "hint: install Claude Code (`npm install -g @anthropic-ai/claude-code`)"
        in (lines["claude"])
    )
    assert "claude login" not in lines  # nothing to ask


def test_not_logged_in_as_the_cli_says_it(env: dict[str, str], tmp_path: Path) -> None:
    fake_claude(tmp_path / "bin", LOGGED_OUT, auth_exit=1)
    code, lines = doctor(env)
    assert code == 1
    assert lines["claude login"].startswith(
        "FAIL  claude login: not logged in (`" + str(tmp_path / "bin" / "claude")
    )
    assert (
        "auth status` exited 1)\nhint: run `claude` once in a terminal and log in"
        in (lines["claude login"])
    )


def test_not_logged_in_said_in_plain_text(env: dict[str, str], tmp_path: Path) -> None:
    # What a turn replies (fixture 05), should a CLI print that for `auth status` too.
    fake_claude(tmp_path / "bin", "Not logged in · Please run /login", auth_exit=1)
    code, lines = doctor(env)
    assert code == 1
    assert "exited 1: Not logged in · Please run /login)" in lines["claude login"]


@pytest.mark.real_claude
def test_not_logged_in_with_the_real_cli(env: dict[str, str]) -> None:
    claude = real_claude()
    env["PATH"] = os.pathsep.join([str(claude.parent), "/usr/bin", "/bin"])
    code, lines = doctor(env)  # HOME is new: no login there
    assert code == 1
    assert lines["claude version"].startswith("ok    claude version: 2.1.332 (Claude Code)")
    assert lines["claude login"].startswith("FAIL  claude login: not logged in (`")
    assert "hint: run `claude` once in a terminal and log in (type /login)" in lines["claude login"]

    env["ANTHROPIC_API_KEY"] = "sk-ant-not-a-real-key"  # never sent: status reads no network
    code, lines = doctor(env)
    assert lines["claude login"] == "ok    claude login: logged in (api_key)", lines


def test_token_expired(env: dict[str, str]) -> None:
    paths = resolve_paths({"ORCH_HOME": env["ORCH_HOME"]})
    expired = mint_token(
        load_private_key(paths.signing_key).unwrap(),
        issuer="orch-local",
        audience="orch",
        subject="local:you",
        scopes=["sessions:read"],
        ttl_seconds=3600,
        now=time.time() - 2 * 86_400,
    )
    write_private_text(paths.token_file, expired + "\n")
    code, lines = doctor(env)
    assert code == 1
    assert lines["token"].startswith(
        f"FAIL  token: {paths.token_file} (local): the token expired at "
    )
    assert "hint: run `orch init` (it renews the local token)" in lines["token"]
    assert expired not in "".join(lines.values())
    # And the fix the hint names works.
    assert doctor_run(["init"], env).returncode == 0
    assert doctor(env)[1]["token"].startswith("ok    token: ")


def test_bad_orch_config(env: dict[str, str]) -> None:
    toml = Path(env["ORCH_HOME"]) / "orch.toml"
    toml.write_text("[claude]\nturn_timeout_seconds = -5\n", encoding="utf-8")
    code, lines = doctor(env)
    assert code == 1
    assert lines["config"].startswith("FAIL  config: claude.turn_timeout_seconds: ")
    assert "hint: fix or delete `claude.turn_timeout_seconds`" in lines["config"]


@pytest.mark.skipif(sys.platform != "linux", reason="Claude Desktop's Linux path")
def test_bad_desktop_config(env: dict[str, str]) -> None:
    path = desktop_file(env)
    broken = path.read_text().replace('"args"', "args", 1)
    path.write_text(broken)
    code, lines = doctor(env)
    assert code == 1
    assert lines["desktop config"].startswith(
        f"FAIL  desktop config: {path}: it is not valid JSON (line "
    )
    assert (
        "hint: Claude Desktop starts no server while this file is broken" in lines["desktop config"]
    )
    assert path.read_text() == broken  # doctor only reads


@pytest.mark.skipif(sys.platform != "linux", reason="Claude Desktop's Linux path")
def test_desktop_entry_pointing_at_a_moved_install(env: dict[str, str]) -> None:
    path = desktop_file(env)
    config = json.loads(path.read_text())
    config["mcpServers"]["orch"]["command"] = "/gone/.venv/bin/orch"
    path.write_text(json.dumps(config))
    code, lines = doctor(env)
    assert code == 1
    assert "its orch command /gone/.venv/bin/orch does not exist" in lines["desktop config"]
    assert "hint: run `orch claude-desktop-config --write`" in lines["desktop config"]


@pytest.mark.skipif(sys.platform != "linux", reason="Claude Desktop's Linux path")
def test_no_desktop_config_yet_is_a_hint_not_a_failure(env: dict[str, str]) -> None:
    desktop_file(env).unlink()
    code, lines = doctor(env)
    assert code == 0
    assert lines["desktop config"] == (
        f"ok    desktop config: {desktop_file(env)} does not exist yet\n"
        "hint: run `orch claude-desktop-config --write`, then quit and reopen Claude Desktop"
    )


@pytest.mark.parametrize("platform", list(Platform), ids=lambda p: p.value)
def test_desktop_check_reads_each_platforms_file(platform: Platform, env: dict[str, str]) -> None:
    user = {**env, "APPDATA": str(Path(env["HOME"]) / "AppData" / "Roaming")}
    path = claude_config_path(platform, user).unwrap()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"mcpServers": {"orch": ', encoding="utf-8")
    checks = {check.name: check for check in run_checks(resolve_paths(user), user, platform)}
    desktop = checks["desktop config"]
    assert not desktop.ok
    assert desktop.detail.startswith(f"{path}: it is not valid JSON (line 1")
