"""orch.toml on real files: init, the template, env overrides, named errors."""

from __future__ import annotations

import os
import re
import stat
import tomllib
from pathlib import Path

import pytest
from returns.pipeline import is_successful
from returns.result import Success

from orch_core._settings import Settings, SettingsError, settings_from_mapping
from orch_shell._config_file import init, load_settings, render_default_config
from orch_shell._paths import OrchPaths, resolve_paths


@pytest.fixture
def paths(tmp_path: Path) -> OrchPaths:
    return resolve_paths({"ORCH_HOME": str(tmp_path / "home")})


def _failure(paths: OrchPaths, environ: dict[str, str] | None = None) -> SettingsError:
    result = load_settings(paths, environ or {})
    assert not is_successful(result), result
    return result.failure()


def test_orch_home_pins_every_path(paths: OrchPaths, tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert (paths.home, paths.config_file, paths.database) == (
        home,
        home / "orch.toml",
        home / "orch.db",
    )
    assert paths.pinned


def test_without_orch_home_paths_are_absolute_platform_dirs() -> None:
    paths = resolve_paths({})
    assert not paths.pinned
    assert paths.home.is_absolute()
    assert paths.config_file.name == "orch.toml"
    assert paths.database == paths.home / "orch.db"


def test_init_creates_private_dir_and_file(paths: OrchPaths) -> None:
    report = init(paths).unwrap()
    assert set(report.created) == {paths.home, paths.config_file}
    assert report.existing == ()
    assert stat.S_IMODE(paths.home.stat().st_mode) == 0o700
    assert stat.S_IMODE(paths.config_file.stat().st_mode) == 0o600
    assert paths.config_file.read_text(encoding="utf-8") == render_default_config()


def test_init_is_idempotent_and_keeps_user_edits(paths: OrchPaths) -> None:
    init(paths).unwrap()
    edited = "[claude]\nturn_timeout_seconds = 60\n"
    paths.config_file.write_text(edited, encoding="utf-8")
    report = init(paths).unwrap()
    assert report.created == ()
    assert set(report.existing) == {paths.home, paths.config_file}
    assert paths.config_file.read_text(encoding="utf-8") == edited
    assert load_settings(paths, {}).unwrap().claude.turn_timeout_seconds == 60.0


def test_init_reports_a_path_it_cannot_create(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory", encoding="utf-8")
    failure = init(resolve_paths({"ORCH_HOME": str(blocker / "home")})).failure()
    assert failure.path == blocker / "home"


def test_rendered_template_parses_to_the_defaults_as_is() -> None:
    assert settings_from_mapping(tomllib.loads(render_default_config())) == Success(Settings())


def test_rendered_template_uncommented_equals_the_defaults() -> None:
    """Every `# key = value` line, uncommented, is a valid setting equal to its default."""
    setting_line = re.compile(r"^# ([a-z_]+ = .*)$")
    lines = render_default_config().splitlines()
    uncommented = [setting_line.sub(r"\1", line) for line in lines]
    assert sum(1 for line in lines if setting_line.match(line)) == 17  # every field
    data = tomllib.loads("\n".join(uncommented))
    assert len(data["claude"]) == 8
    assert settings_from_mapping(data) == Success(Settings())


def test_missing_file_means_defaults(paths: OrchPaths) -> None:
    assert load_settings(paths, {}) == Success(Settings())


def test_env_overrides_the_file(paths: OrchPaths, tmp_path: Path) -> None:
    init(paths).unwrap()
    paths.config_file.write_text(
        '[claude]\ncommand = "file-claude"\n[server]\nlog_level = "error"\n', encoding="utf-8"
    )
    environ = {
        "ORCH_CLAUDE_COMMAND": "'/opt/my tools/claude' --debug",
        "ORCH_ALLOWED_ROOTS": os.pathsep.join([str(tmp_path / "a"), "", str(tmp_path / "b")]),
        "ORCH_LOG_LEVEL": "debug",
    }
    settings = load_settings(paths, environ).unwrap()
    assert settings.claude.command == ("/opt/my tools/claude", "--debug")
    assert settings.server.allowed_roots == (str(tmp_path / "a"), str(tmp_path / "b"))
    assert settings.server.log_level == "debug"
    # Unset or empty variables leave the file's values alone.
    settings = load_settings(paths, {"ORCH_LOG_LEVEL": ""}).unwrap()
    assert (settings.claude.command, settings.server.log_level) == (("file-claude",), "error")


def test_bad_env_value_names_the_variable(paths: OrchPaths) -> None:
    error = _failure(paths, {"ORCH_LOG_LEVEL": "loud"})
    assert error.key == "server.log_level"
    assert "$ORCH_LOG_LEVEL" in error.message


def test_bad_file_value_names_key_and_file(paths: OrchPaths) -> None:
    init(paths).unwrap()
    paths.config_file.write_text("[limits]\nmax_agents_per_session = 0\n", encoding="utf-8")
    error = _failure(paths)
    assert error.key == "limits.max_agents_per_session"
    assert str(paths.config_file) in error.message


def test_unknown_key_in_file_is_named(paths: OrchPaths) -> None:
    init(paths).unwrap()
    paths.config_file.write_text("[server]\nnonsense = 1\n", encoding="utf-8")
    assert _failure(paths).key == "server.nonsense"


def test_toml_syntax_error_names_file_and_line(paths: OrchPaths) -> None:
    init(paths).unwrap()
    paths.config_file.write_text("[claude]\n\nturn_timeout_seconds = = 5\n", encoding="utf-8")
    error = _failure(paths)
    assert error.key == str(paths.config_file)
    assert "invalid TOML" in error.message
    assert "line 3" in error.message


def test_non_utf8_file_is_an_error_not_a_crash(paths: OrchPaths) -> None:
    init(paths).unwrap()
    paths.config_file.write_bytes(b"[claude]\ncommand = '\xff'\n")
    assert "UTF-8" in _failure(paths).message


def test_unreadable_config_is_an_error_not_a_crash(paths: OrchPaths) -> None:
    paths.config_file.mkdir(parents=True)  # a directory where the file should be
    assert "cannot read" in _failure(paths).message
