"""``orch claude-desktop-config --write``: merging orch into Claude Desktop's own file.

The file functions run against a temporary HOME for each platform's path (the
platform is a parameter, so the macOS and Windows paths are tested here too);
the command itself runs as a real subprocess on this machine's platform.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from orch_shell._desktop_config_file import (
    Platform,
    claude_config_path,
    write_server_entry,
)

pytestmark = pytest.mark.timeout(60)

ORCH = Path(sys.executable).parent / "orch"
NOW = 1_790_000_000.0  # 2026-09-21 14:13:20 UTC
ENTRY: dict[str, Any] = {
    "command": "/opt/orch/.venv/bin/orch",
    "args": ["serve"],
    "env": {"ORCH_HOME": "/data/orch", "ORCH_TOKEN_FILE": "/data/orch/token"},
}
OTHERS: dict[str, Any] = {
    "mcpServers": {
        "github": {"command": "npx", "args": ["-y", "gh-mcp"], "env": {"GH_TOKEN": "s3cret"}},
        "filesystem": {"command": "fs-mcp", "args": ["/home/ann/src"]},
    },
    "globalShortcut": "Ctrl+Space",
}


def platform_env(platform: Platform, home: Path) -> dict[str, str]:
    """The environment a user of ``platform`` would have, rooted at ``home``."""
    if platform is Platform.WINDOWS:
        return {"USERPROFILE": str(home), "APPDATA": str(home / "AppData" / "Roaming")}
    return {"HOME": str(home)}


EXPECTED_PATHS = {
    Platform.MACOS: "Library/Application Support/Claude/claude_desktop_config.json",
    Platform.WINDOWS: "AppData/Roaming/Claude/claude_desktop_config.json",
    Platform.LINUX: ".config/Claude/claude_desktop_config.json",
}


@pytest.mark.parametrize("platform", list(Platform), ids=lambda p: p.value)
def test_each_platform_has_its_path_under_home(platform: Platform, tmp_path: Path) -> None:
    found = claude_config_path(platform, platform_env(platform, tmp_path)).unwrap()
    assert found == tmp_path / EXPECTED_PATHS[platform]


def test_linux_follows_xdg_config_home_and_windows_falls_back_to_the_profile(
    tmp_path: Path,
) -> None:
    xdg = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    linux = claude_config_path(Platform.LINUX, xdg).unwrap()
    assert linux == tmp_path / "xdg" / "Claude" / "claude_desktop_config.json"
    windows = claude_config_path(Platform.WINDOWS, {"USERPROFILE": str(tmp_path)}).unwrap()
    assert windows == tmp_path / EXPECTED_PATHS[Platform.WINDOWS]
    assert str(claude_config_path(Platform.MACOS, {}).failure()) == "HOME is not set"


def existing_config(platform: Platform, home: Path, mode: int = 0o640) -> tuple[Path, bytes]:
    path = claude_config_path(platform, platform_env(platform, home)).unwrap()
    path.parent.mkdir(parents=True)
    original = json.dumps(OTHERS, indent=4).encode()
    path.write_bytes(original)
    path.chmod(mode)
    return path, original


def files_beside(path: Path) -> list[str]:
    return sorted(entry.name for entry in path.parent.iterdir())


@pytest.mark.parametrize("platform", list(Platform), ids=lambda p: p.value)
def test_merges_keeping_other_servers_with_a_backup(platform: Platform, tmp_path: Path) -> None:
    path, original = existing_config(platform, tmp_path)
    report = write_server_entry(path, ENTRY, NOW).unwrap()

    written = json.loads(path.read_text(encoding="utf-8"))
    assert written["mcpServers"] == {**OTHERS["mcpServers"], "orch": ENTRY}
    assert written["globalShortcut"] == "Ctrl+Space"
    assert report.merged.others == ("github", "filesystem")
    assert not report.merged.replaced
    # The backup holds the original bytes, private like the original.
    backup = path.with_name("claude_desktop_config.json.orch-backup-20260921-141320")
    assert report.backup == backup
    assert backup.read_bytes() == original
    assert backup.stat().st_mode & 0o777 == 0o640
    assert path.stat().st_mode & 0o777 == 0o640  # the original's mode, not the umask's
    assert files_beside(path) == [path.name, backup.name]  # no temp file left


def test_running_twice_changes_nothing(tmp_path: Path) -> None:
    path, _ = existing_config(Platform.LINUX, tmp_path)
    write_server_entry(path, ENTRY, NOW).unwrap()
    before = (path.read_bytes(), path.stat().st_ino, files_beside(path))

    again = write_server_entry(path, ENTRY, NOW + 60).unwrap()
    assert not again.merged.changed
    assert again.backup is None
    assert (path.read_bytes(), path.stat().st_ino, files_beside(path)) == before


def test_a_changed_entry_replaces_the_old_one_after_a_second_backup(tmp_path: Path) -> None:
    path, _ = existing_config(Platform.LINUX, tmp_path)
    write_server_entry(path, ENTRY, NOW).unwrap()
    first = path.read_bytes()
    moved = {**ENTRY, "command": "/new/place/orch"}
    report = write_server_entry(path, moved, NOW).unwrap()  # same second: a new name
    assert report.merged.replaced
    assert report.backup is not None and report.backup.name.endswith("-141320-1")
    assert report.backup.read_bytes() == first
    assert json.loads(path.read_text())["mcpServers"]["orch"]["command"] == "/new/place/orch"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (
            '{\n  "mcpServers": {\n    "github": {"command": "npx",}\n  }\n}',
            "line 3, column 33: Expecting property",
        ),
        ('["not", "an", "object"]', "its top level is a JSON list, not an object"),
        ('{"mcpServers": "github"}', 'its "mcpServers" is a JSON str, not an object'),
    ],
    ids=["trailing-comma", "top-level-list", "servers-not-object"],
)
def test_a_malformed_file_is_left_untouched_with_a_clear_error(
    text: str, why: str, tmp_path: Path
) -> None:
    path, _ = existing_config(Platform.LINUX, tmp_path)
    path.write_text(text, encoding="utf-8")
    error = write_server_entry(path, ENTRY, NOW).failure()
    assert str(error).startswith(f"{path} was left as it was: ")
    assert why in str(error)
    assert str(error).endswith("Fix it, then run again.")
    assert path.read_text(encoding="utf-8") == text
    assert files_beside(path) == [path.name]  # no backup, no temp file


def test_a_missing_file_and_folder_are_created_private(tmp_path: Path) -> None:
    path = claude_config_path(Platform.MACOS, {"HOME": str(tmp_path)}).unwrap()
    report = write_server_entry(path, ENTRY, NOW).unwrap()
    assert report.created_dir and report.backup is None
    assert json.loads(path.read_text()) == {"mcpServers": {"orch": ENTRY}}
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_symlinked_config_stays_a_link_to_the_updated_file(tmp_path: Path) -> None:
    dotfiles = tmp_path / "dotfiles" / "claude.json"
    dotfiles.parent.mkdir()
    dotfiles.write_text(json.dumps(OTHERS))
    path = claude_config_path(Platform.LINUX, {"HOME": str(tmp_path)}).unwrap()
    path.parent.mkdir(parents=True)
    path.symlink_to(dotfiles)
    write_server_entry(path, ENTRY, NOW).unwrap()
    assert path.is_symlink()
    assert json.loads(dotfiles.read_text())["mcpServers"]["orch"] == ENTRY


# The command, as a user runs it (on this machine: the Linux path).


def orch(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ORCH), *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def user_env(tmp_path: Path) -> dict[str, str]:
    """A temporary HOME and ORCH_HOME, set up by ``orch init``."""
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "ORCH_HOME": str(home / "orch data"), "PATH": os.defpath}
    assert orch("init", env=env).returncode == 0
    return env


@pytest.mark.skipif(sys.platform != "linux", reason="the command writes this machine's path")
def test_write_command_merges_then_is_up_to_date(user_env: dict[str, str]) -> None:
    home = Path(user_env["HOME"])
    path = home / EXPECTED_PATHS[Platform.LINUX]
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(OTHERS))

    first = orch("claude-desktop-config", "--write", env=user_env)
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert lines[0].startswith(f"backed up     {path}.orch-backup-")
    assert lines[1] == (
        f"wrote         {path} (added orch; other servers kept: github, filesystem)"
    )
    entry = json.loads(path.read_text())["mcpServers"]["orch"]
    assert entry["command"] == str(ORCH)  # this install, absolute
    assert entry["args"] == ["serve"]
    assert entry["env"]["ORCH_TOKEN_FILE"] == str(Path(user_env["ORCH_HOME"]) / "token")
    assert "'claude' was not found" in first.stderr  # not on this PATH: said, not fatal

    second = orch("claude-desktop-config", "--write", env=user_env)
    assert second.returncode == 0, second.stderr
    assert second.stdout.startswith(f"up to date    {path}")
    assert len(list(path.parent.glob("*.orch-backup-*"))) == 1


@pytest.mark.skipif(sys.platform != "linux", reason="the command writes this machine's path")
def test_write_command_refuses_a_malformed_file(user_env: dict[str, str]) -> None:
    path = Path(user_env["HOME"]) / EXPECTED_PATHS[Platform.LINUX]
    path.parent.mkdir(parents=True)
    path.write_text('{"mcpServers": {')
    done = orch("claude-desktop-config", "--write", env=user_env)
    assert done.returncode == 1
    assert done.stdout == ""
    assert f"orch: cannot update Claude Desktop's config: {path} was left as it was: " in (
        done.stderr
    )
    assert "it is not valid JSON (line 1, column 17" in done.stderr
    assert path.read_text() == '{"mcpServers": {'
