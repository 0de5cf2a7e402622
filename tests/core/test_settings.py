"""Settings: defaults, every validator by its dotted key, strict types, round trips."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest
from attrs import fields
from hypothesis import given
from hypothesis import strategies as st
from returns.pipeline import is_successful
from returns.result import Success

from orch_core import SecurityPolicy
from orch_core._settings import (
    DOC,
    PERMISSION_MODES,
    ClaudeSettings,
    InvalidSettingError,
    Limits,
    ServerSettings,
    Settings,
    SettingsError,
    settings_from_mapping,
    settings_to_mapping,
)
from tests.strategies import security_policies


def _error(data: dict[str, Any]) -> SettingsError:
    result = settings_from_mapping(data)
    assert not is_successful(result), result
    return result.failure()


def test_defaults_are_the_documented_ones() -> None:
    settings = Settings()
    assert settings.limits == Limits(
        max_sessions_per_principal=32,
        max_agents_per_session=16,
        max_message_bytes=102_400,
        max_role_bytes=8_192,
        max_name_chars=64,
        max_description_bytes=4_096,
    )
    assert settings.claude.command == ("claude",)
    assert settings.claude.turn_timeout_seconds == 1800.0
    assert settings.claude.kill_grace_seconds == 5.0
    assert settings.claude.permission_modes == ("default", "acceptEdits", "plan")
    assert settings.claude.max_line_bytes == 8 * 1024 * 1024
    assert settings.claude.max_reply_bytes == 1024 * 1024
    assert settings.claude.stderr_tail_bytes == 8_192
    assert settings.claude.env_passthrough == ()
    assert settings.server == ServerSettings(
        allowed_roots=(), log_level="info", default_wait_seconds=25.0, log_file="", metrics=True
    )
    assert settings.auth is None  # the local issuer made by `orch init`


def test_empty_mapping_gives_defaults() -> None:
    assert settings_from_mapping({}) == Success(Settings())
    assert settings_from_mapping({"claude": {}, "server": {}, "limits": {}}) == Success(Settings())


def test_every_field_has_a_description_for_the_template() -> None:
    for cls in (Limits, ClaudeSettings, ServerSettings, SecurityPolicy):
        for attribute in fields(cls):
            assert attribute.metadata.get(DOC), f"{cls.__name__}.{attribute.name}"


@pytest.mark.parametrize(
    ("data", "key", "fragment"),
    [
        (
            {"limits": {"max_sessions_per_principal": 0}},
            "limits.max_sessions_per_principal",
            "greater than 0",
        ),
        (
            {"limits": {"max_agents_per_session": -3}},
            "limits.max_agents_per_session",
            "greater than 0",
        ),
        ({"limits": {"max_message_bytes": 0}}, "limits.max_message_bytes", "greater than 0"),
        ({"limits": {"max_role_bytes": 0}}, "limits.max_role_bytes", "greater than 0"),
        ({"limits": {"max_name_chars": 0}}, "limits.max_name_chars", "greater than 0"),
        (
            {"limits": {"max_description_bytes": 0}},
            "limits.max_description_bytes",
            "greater than 0",
        ),
        ({"claude": {"turn_timeout_seconds": -1}}, "claude.turn_timeout_seconds", "greater than 0"),
        ({"claude": {"turn_timeout_seconds": 0}}, "claude.turn_timeout_seconds", "greater than 0"),
        (
            {"claude": {"turn_timeout_seconds": float("inf")}},
            "claude.turn_timeout_seconds",
            "finite",
        ),
        (
            {"claude": {"turn_timeout_seconds": float("nan")}},
            "claude.turn_timeout_seconds",
            "finite",
        ),
        (
            {"claude": {"kill_grace_seconds": -0.5}},
            "claude.kill_grace_seconds",
            "between 0 and 300",
        ),
        (
            {"claude": {"kill_grace_seconds": 300.5}},
            "claude.kill_grace_seconds",
            "between 0 and 300",
        ),
        ({"claude": {"max_line_bytes": 0}}, "claude.max_line_bytes", "greater than 0"),
        ({"claude": {"max_reply_bytes": 0}}, "claude.max_reply_bytes", "greater than 0"),
        ({"claude": {"stderr_tail_bytes": 0}}, "claude.stderr_tail_bytes", "greater than 0"),
        ({"claude": {"permission_modes": []}}, "claude.permission_modes", "at least one"),
        ({"claude": {"permission_modes": ["plan", "yolo"]}}, "claude.permission_modes", "'yolo'"),
        ({"claude": {"command": []}}, "claude.command", "program"),
        ({"claude": {"command": ""}}, "claude.command", "program"),
        ({"claude": {"command": 'claude "unclosed'}}, "claude.command", "split"),
        ({"claude": {"env_passthrough": ["NOT-A-NAME"]}}, "claude.env_passthrough", "NOT-A-NAME"),
        ({"server": {"log_level": "trace"}}, "server.log_level", "debug, info, warning, error"),
        ({"server": {"allowed_roots": ["relative/dir"]}}, "server.allowed_roots", "absolute"),
        ({"server": {"allowed_roots": ["~/code"]}}, "server.allowed_roots", "absolute"),
        ({"server": {"default_wait_seconds": 0}}, "server.default_wait_seconds", "greater than 0"),
        ({"server": {"log_file": "orch.log"}}, "server.log_file", "absolute"),
    ],
)
def test_each_range_check_names_its_dotted_key(
    data: dict[str, Any], key: str, fragment: str
) -> None:
    error = _error(data)
    assert error.key == key
    assert fragment in error.message


@pytest.mark.parametrize(
    ("data", "key", "fragment"),
    [
        ({"limits": {"max_name_chars": True}}, "limits.max_name_chars", "integer"),
        ({"limits": {"max_name_chars": "64"}}, "limits.max_name_chars", "integer"),
        ({"limits": {"max_name_chars": 6.5}}, "limits.max_name_chars", "integer"),
        ({"claude": {"turn_timeout_seconds": "soon"}}, "claude.turn_timeout_seconds", "number"),
        ({"claude": {"kill_grace_seconds": False}}, "claude.kill_grace_seconds", "number"),
        ({"claude": {"permission_modes": "plan"}}, "claude.permission_modes", "list of strings"),
        ({"claude": {"command": ["claude", 3]}}, "claude.command", "list of strings"),
        ({"server": {"allowed_roots": "/tmp"}}, "server.allowed_roots", "list of strings"),
        ({"server": {"log_level": 10}}, "server.log_level", "string"),
        ({"server": {"metrics": "no"}}, "server.metrics", "true or false"),
        ({"server": {"metrics": 0}}, "server.metrics", "true or false"),
        ({"claude": 5}, "claude", "table"),
        ({"auth": "https://idp.example/"}, "auth", "table"),
        ({"auth": {"issuer": ["i"], "audience": "a"}}, "auth.issuer", "string"),
        ({"auth": {"issuer": "i", "audience": "a", "scopes": "x"}}, "auth.scopes", "table"),
    ],
)
def test_wrong_types_are_refused_not_coerced(data: dict[str, Any], key: str, fragment: str) -> None:
    error = _error(data)
    assert (error.key, fragment in error.message) == (key, True), error


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"server": {"nonsense": 1}}, "server.nonsense"),
        ({"claude": {"turn_timeout": 5}}, "claude.turn_timeout"),
        ({"limits": {"max_agents": 5}}, "limits.max_agents"),
        ({"nonsense": {}}, "nonsense"),
        ({"auth": {"issuer": "i", "audience": "a", "jwks": "https://x/"}}, "auth.jwks"),
    ],
)
def test_unknown_keys_are_named_with_the_known_ones(data: dict[str, Any], key: str) -> None:
    error = _error(data)
    assert error.key == key
    assert error.message.startswith("unknown setting (known: ")


def test_command_string_is_split_like_a_shell() -> None:
    data = {"claude": {"command": "'/Applications/My Tools/claude' --verbose"}}
    settings = settings_from_mapping(data).unwrap()
    assert settings.claude.command == ("/Applications/My Tools/claude", "--verbose")


def test_windows_and_posix_roots_are_absolute() -> None:
    roots = ["/home/me/code", "C:\\Users\\me", "D:/work", "\\\\server\\share"]
    settings = settings_from_mapping({"server": {"allowed_roots": roots}}).unwrap()
    assert settings.server.allowed_roots == tuple(roots)


def test_integers_are_accepted_for_seconds() -> None:
    settings = settings_from_mapping({"claude": {"turn_timeout_seconds": 60}}).unwrap()
    assert settings.claude.turn_timeout_seconds == 60.0
    assert isinstance(settings.claude.turn_timeout_seconds, float)


def test_direct_construction_with_a_bad_value_raises() -> None:
    with pytest.raises(InvalidSettingError, match="greater than 0"):
        ClaudeSettings(turn_timeout_seconds=-1.0)


_names = st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_]{0,15}\Z")
_roots = st.builds(
    lambda parts: "/" + "/".join(parts),
    st.lists(st.text(st.characters(blacklist_characters="/\0"), min_size=1), max_size=3),
)
_positive_int = st.integers(min_value=1, max_value=2**40)
_rate = st.integers(min_value=0, max_value=2**40)  # 0: unlimited
_seconds = st.floats(min_value=1e-3, max_value=1e9, allow_nan=False, allow_infinity=False)

settings_strategy = st.builds(
    Settings,
    auth=st.none() | security_policies(),
    server=st.builds(
        ServerSettings,
        allowed_roots=st.lists(_roots, max_size=3).map(tuple),
        log_level=st.sampled_from(["debug", "info", "warning", "error"]),
        default_wait_seconds=_seconds,
        log_file=st.just("") | _roots,
        metrics=st.booleans(),
    ),
    claude=st.builds(
        ClaudeSettings,
        command=st.lists(st.text(min_size=1), min_size=1, max_size=3).map(tuple),
        turn_timeout_seconds=_seconds,
        kill_grace_seconds=st.floats(min_value=0, max_value=300),
        permission_modes=st.lists(st.sampled_from(PERMISSION_MODES), min_size=1).map(tuple),
        max_line_bytes=_positive_int,
        max_reply_bytes=_positive_int,
        stderr_tail_bytes=_positive_int,
        env_passthrough=st.lists(_names, max_size=3).map(tuple),
    ),
    limits=st.builds(
        Limits,
        read_per_minute=_rate,
        read_burst=_positive_int,
        write_per_minute=_rate,
        write_burst=_positive_int,
        message_per_minute=_rate,
        message_burst=_positive_int,
        max_running_turns=_positive_int,
        max_running_turns_per_principal=_positive_int,
        max_agents_total=_positive_int,
        max_stdio_line_bytes=_positive_int,
        max_sessions_per_principal=_positive_int,
        max_agents_per_session=_positive_int,
        max_message_bytes=_positive_int,
        max_role_bytes=_positive_int,
        max_name_chars=_positive_int,
        max_description_bytes=_positive_int,
    ),
)


@given(settings_strategy)
def test_any_valid_settings_round_trip_through_a_plain_mapping(settings: Settings) -> None:
    """Contract: settings_from_mapping(settings_to_mapping(s)) == Success(s)."""
    assert settings_from_mapping(settings_to_mapping(settings)) == Success(settings)


AT_JWT = "at+jwt"  # a token type (the `typ` header), not a credential
AUTH_TOML = """
[auth]
issuer = "https://login.example.com/"
audience = "api://orch"
algorithms = ["RS256", "PS256"]
jwks_url = "https://login.example.com/.well-known/jwks.json"
jwks_cache_seconds = 600
leeway_seconds = 10
max_token_bytes = 4096
required_claims = ["exp", "iat", "iss", "aud", "sub", "jti"]
token_type = "at+jwt"

[auth.scopes]
list_sessions = "orch.read"
send_message_to_agent = "orch.chat"
"""


def test_an_auth_table_from_toml_becomes_the_policy_and_round_trips() -> None:
    settings = settings_from_mapping(tomllib.loads(AUTH_TOML)).unwrap()
    assert settings.auth == SecurityPolicy(
        issuer="https://login.example.com/",
        audience="api://orch",
        algorithms=("RS256", "PS256"),
        jwks_url="https://login.example.com/.well-known/jwks.json",
        jwks_cache_seconds=600.0,
        leeway_seconds=10.0,
        max_token_bytes=4096,
        required_claims=("exp", "iat", "iss", "aud", "sub", "jti"),
        token_type=AT_JWT,
        scopes={"list_sessions": "orch.read", "send_message_to_agent": "orch.chat"},
    )
    assert settings.auth.scopes["create_session"] == "sessions:write"  # defaults kept
    mapping = settings_to_mapping(settings)
    assert "secret" not in mapping["auth"]  # TOML has no null: unset keys are left out
    assert "public_key_file" not in mapping["auth"]
    assert settings_from_mapping(mapping) == Success(settings)


def test_no_auth_table_is_left_out_of_the_mapping() -> None:
    assert "auth" not in settings_to_mapping(Settings())


@pytest.mark.parametrize(
    ("auth", "key"),
    [
        ({}, "auth.issuer"),
        ({"issuer": "https://idp.example/"}, "auth.audience"),
        ({"audience": "orch", "jwks_url": "https://idp.example/jwks"}, "auth.issuer"),
    ],
)
def test_an_auth_table_must_name_issuer_and_audience(auth: dict[str, Any], key: str) -> None:
    error = _error({"auth": auth})
    assert (error.key, error.message) == (key, "required, but not set")
