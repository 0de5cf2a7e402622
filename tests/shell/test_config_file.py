"""orch.toml on real files: init, the template, env overrides, named errors."""

from __future__ import annotations

import os
import re
import stat
import tomllib
from pathlib import Path

import pytest
from attrs import fields
from returns.pipeline import is_successful
from returns.result import Success

from orch_core import DEFAULT_ACTION_SCOPES, SecurityPolicy
from orch_core._settings import Settings, SettingsError, settings_from_mapping
from orch_shell._config_file import _SECTIONS, init, load_settings, render_default_config
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


SETTING_LINE = re.compile(r"^# ([a-z_]+ = .*)$")
AUTH_HEADER = "# [auth]"


def _sections_and_auth() -> tuple[list[str], list[str]]:
    """The template's lines before the ``[auth]`` block, and the block itself."""
    lines = render_default_config().splitlines()
    start = lines.index(AUTH_HEADER)
    return lines[:start], lines[start:]


def test_rendered_template_uncommented_equals_the_defaults() -> None:
    """Every `# key = value` line of [server], [claude] and [limits], uncommented, is a
    valid setting equal to its default."""
    sections, _ = _sections_and_auth()
    uncommented = [SETTING_LINE.sub(r"\1", line) for line in sections]
    every_field = sum(len(fields(cls)) for _, cls in _SECTIONS)
    assert sum(1 for line in sections if SETTING_LINE.match(line)) == every_field
    data = tomllib.loads("\n".join(uncommented))
    assert len(data["claude"]) == 9
    assert "auth" not in data
    assert settings_from_mapping(data) == Success(Settings())


def test_the_auth_block_is_last_and_fully_commented() -> None:
    sections, auth = _sections_and_auth()
    assert all(not line or line.startswith("#") for line in auth), auth
    assert "# [auth.scopes]" in auth
    assert not any(line.startswith("# [auth") for line in sections)
    text = "\n".join(auth)
    assert "orch init" in text
    assert "orch token issue" in text
    for field in fields(SecurityPolicy):  # every key is shown, with its explanation
        assert re.search(rf"^# (Or: |For example: )?{field.name} = ", text, re.M) or (
            field.name == "scopes"
        ), field.name
    for example in ("jwks_url", "Or: public_key_file", "Or: secret", "For example: token_type"):
        assert f"# {example} = " in text


def _auth_uncommented(*, instead_of_jwks: str | None = None) -> dict[str, object]:
    """The template parsed with the [auth] block's `# key = value` lines and headers
    uncommented; ``instead_of_jwks`` (an `Or:` key) replaces the jwks_url line."""
    setting = re.compile(r"^# (\[auth(?:\.scopes)?\]|[a-z_]+ = .*)$")
    lines = []
    for line in render_default_config().splitlines():
        if instead_of_jwks and line.startswith("# jwks_url = "):
            continue
        chosen = instead_of_jwks and line.startswith(f"# Or: {instead_of_jwks} = ")
        lines.append(setting.sub(r"\1", line.replace("# Or: ", "# ") if chosen else line))
    return tomllib.loads("\n".join(lines))


def test_uncommenting_the_auth_block_gives_a_jwks_policy() -> None:
    """Its `# key = value` lines and its two headers, uncommented, are a valid policy
    for an identity provider (the alternatives, prefixed `Or:`, stay comments)."""
    settings = settings_from_mapping(_auth_uncommented()).unwrap()
    assert settings.auth == SecurityPolicy(
        issuer="https://login.example.com/",
        audience="orch",
        jwks_url="https://login.example.com/.well-known/jwks.json",
    )
    assert settings.auth.scopes == DEFAULT_ACTION_SCOPES
    assert (settings.server, settings.claude, settings.limits) == (
        Settings().server,
        Settings().claude,
        Settings().limits,
    )


def test_the_public_key_file_alternative_uncommented_instead_is_valid() -> None:
    policy = settings_from_mapping(_auth_uncommented(instead_of_jwks="public_key_file"))
    assert policy.unwrap().auth == SecurityPolicy(
        issuer="https://login.example.com/",
        audience="orch",
        public_key_file="/etc/orch/issuer.pub.pem",
    )


def test_the_sample_secret_is_refused_even_with_an_hmac_algorithm() -> None:
    """Nobody gets a working HS256 setup by pasting the sample: it is too short."""
    data = _auth_uncommented(instead_of_jwks="secret")
    auth = data["auth"]
    assert isinstance(auth, dict)
    error = settings_from_mapping({"auth": {**auth, "algorithms": ["HS256"]}}).failure()
    assert (error.key, "at least 32 bytes" in error.message) == ("auth.secret", True)
    assert "CHANGE-ME" not in error.message


def test_an_auth_table_in_the_file_is_loaded(paths: OrchPaths) -> None:
    init(paths).unwrap()
    paths.config_file.write_text(
        '[auth]\nissuer = "https://idp.example/"\naudience = "orch"\n'
        'algorithms = ["ES256"]\npublic_key_file = "/etc/orch/idp.pub.pem"\n'
        '[auth.scopes]\ndelete_session = "orch:admin"\n',
        encoding="utf-8",
    )
    policy = load_settings(paths, {}).unwrap().auth
    assert policy == SecurityPolicy(
        issuer="https://idp.example/",
        audience="orch",
        algorithms=("ES256",),
        public_key_file="/etc/orch/idp.pub.pem",
        scopes={"delete_session": "orch:admin"},
    )


_IDP = '[auth]\nissuer = "i"\naudience = "a"\n'


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[auth]\n", "auth.issuer"),
        (_IDP + 'jwks_url = "http://idp.example/"\n', "auth.jwks_url"),
        (_IDP + 'algorithms = ["HS256"]\nsecret = "tiny"\n', "auth.secret"),
        (_IDP + 'jwks_url = "https://x/"\n[auth.scopes]\nfoo = "x"\n', "auth.scopes"),
    ],
)
def test_a_bad_auth_table_names_key_and_file(paths: OrchPaths, text: str, key: str) -> None:
    init(paths).unwrap()
    paths.config_file.write_text(text, encoding="utf-8")
    error = _failure(paths)
    assert error.key == key
    assert str(paths.config_file) in error.message
    assert "tiny" not in error.message


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
