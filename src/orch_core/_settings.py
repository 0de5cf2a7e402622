"""Every knob of orch, validated once, when the value is built.

A ``Settings`` value that exists is a valid one: the attrs validators (in
``_settings_checks``) run at construction, so nothing downstream re-checks a
timeout or a limit. Values arrive from a TOML file and the environment (read by
the shell); this module turns that plain mapping into ``Settings`` and says, by
dotted TOML key, what was wrong. Each field's ``metadata["doc"]`` is written
above its key in the default ``orch.toml``, so that template cannot drift.

>>> Settings().claude.command
('claude',)
>>> settings_from_mapping({"claude": {"command": "npx -y claude"}}).unwrap().claude.command
('npx', '-y', 'claude')
>>> settings_from_mapping({"limits": {"max_agents_per_session": 0}}).failure()
SettingsError(key='limits.max_agents_per_session', message='must be greater than 0, got 0')
>>> settings_from_mapping({"server": {"nonsense": 1}}).failure().key
'server.nonsense'
>>> settings_from_mapping({"auth": {"issuer": "https://idp.example/"}}).failure()
SettingsError(key='auth.audience', message='required, but not set')
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import cattrs
from attrs import Factory, field, frozen
from cattrs.errors import ClassValidationError
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override
from returns.result import Failure, Result, Success

from . import _settings_checks as checks
from ._audit_settings import AuditSettings
from ._limits import Limits
from ._security import SecurityPolicy
from ._settings_checks import (
    DOC,
    LOG_LEVELS,
    PERMISSION_MODES,
    InvalidSettingError,
    SettingsError,
)


@frozen(kw_only=True)
class ClaudeSettings:
    """How agents are run: the Claude Code CLI, its time limits and output caps."""

    command: tuple[str, ...] = field(
        default=("claude",),
        validator=checks.command,
        metadata={
            DOC: "The Claude Code CLI: a program and arguments (a string is split like a shell)."
        },
    )
    turn_timeout_seconds: float = field(
        default=1800.0,
        validator=checks.positive,
        metadata={DOC: "A turn running longer than this is stopped."},
    )
    kill_grace_seconds: float = field(
        default=5.0,
        validator=checks.grace,
        metadata={DOC: "Seconds between asking an agent to stop (SIGTERM) and killing it (0-300)."},
    )
    permission_modes: tuple[str, ...] = field(
        default=("default", "acceptEdits", "plan"),
        validator=checks.modes,
        metadata={
            DOC: "Permission modes clients may choose. Known: " + ", ".join(PERMISSION_MODES) + "."
        },
    )
    max_line_bytes: int = field(
        default=8 * 1024 * 1024,
        validator=checks.positive,
        metadata={DOC: "Longest line of CLI output accepted; a longer one fails the turn."},
    )
    max_reply_bytes: int = field(
        default=1024 * 1024,
        validator=checks.positive,
        metadata={DOC: "Largest reply accepted from one turn; a longer one fails the turn."},
    )
    max_output_bytes: int = field(
        default=128 * 1024 * 1024,
        validator=checks.positive,
        metadata={DOC: "Most CLI output accepted from one turn, all lines; more fails the turn."},
    )
    stderr_tail_bytes: int = field(
        default=8_192,
        validator=checks.positive,
        metadata={DOC: "How much of an agent's stderr is kept to explain a failure."},
    )
    env_passthrough: tuple[str, ...] = field(
        default=(),
        validator=checks.env_names,
        metadata={DOC: "Extra environment variable names passed on to agents."},
    )


@frozen(kw_only=True)
class ServerSettings:
    """The server's own behaviour: where agents may work, logging, waiting."""

    allowed_roots: tuple[str, ...] = field(
        default=(),
        validator=checks.absolute,
        metadata={DOC: "Absolute directories agents may work in; empty means your home directory."},
    )
    log_level: str = field(
        default="info",
        validator=checks.log_level,
        metadata={DOC: "Log detail: " + ", ".join(LOG_LEVELS) + "."},
    )
    default_wait_seconds: float = field(
        default=25.0,
        validator=checks.positive,
        metadata={
            DOC: "How long a tool call waits for a reply before returning a 'still running'."
        },
    )
    log_file: str = field(
        default="",
        validator=checks.absolute_or_empty,
        metadata={DOC: "Write log lines (JSON) to this absolute file path; empty means stderr."},
    )
    metrics: bool = field(
        default=True,
        metadata={DOC: "Keep Prometheus metrics (orch://metrics, GET /metrics over HTTP)."},
    )


@frozen(kw_only=True)
class Settings:
    """All settings; one attribute per ``[section]`` of ``orch.toml``."""

    server: ServerSettings = Factory(ServerSettings)
    claude: ClaudeSettings = Factory(ClaudeSettings)
    limits: Limits = Factory(Limits)
    audit: AuditSettings = Factory(AuditSettings)
    auth: SecurityPolicy | None = None
    """``[auth]``; ``None`` (no table) means the local issuer made by ``orch init``,
    i.e. ``local_policy(<the local public key file>)``, chosen by the shell."""


def settings_from_mapping(data: Mapping[str, object]) -> Result[Settings, SettingsError]:
    """Build ``Settings`` from parsed TOML; missing keys keep their defaults.

    Types are strict (``true`` is not a number, ``"5"`` is not an integer) and
    unknown keys are refused, because a misspelt key silently ignored is a
    setting the user believes in but does not have. Only the first problem is
    reported, under its dotted key.

    >>> loaded = settings_from_mapping({"claude": {"command": ["claude", "--verbose"]}})
    >>> loaded.unwrap().claude.command
    ('claude', '--verbose')
    >>> settings_from_mapping({"claude": {"turn_timeout_seconds": "soon"}}).failure().describe()
    "claude.turn_timeout_seconds: must be a number, got 'soon'"
    """
    try:
        return Success(_CONVERTER.structure(data, Settings))
    except (ClassValidationError, InvalidSettingError) as error:
        return Failure(checks.first_error(error))


def settings_to_mapping(settings: Settings) -> dict[str, Any]:
    """The plain, TOML-shaped form of ``settings`` (tuples become lists).

    >>> settings_to_mapping(Settings())["server"]["allowed_roots"]
    []
    """
    unstructured: dict[str, Any] = _CONVERTER.unstructure(settings)
    return unstructured


def _make_converter() -> cattrs.Converter:
    converter = cattrs.Converter(forbid_extra_keys=True)
    converter.register_structure_hook(int, checks.structure_int)
    converter.register_structure_hook(float, checks.structure_float)
    converter.register_structure_hook(str, checks.structure_str)
    converter.register_structure_hook(bool, checks.structure_bool)
    # tuple[str, ...] is not a class, so it is matched by a predicate, not dispatch.
    converter.register_structure_hook_func(checks.is_strings, checks.structure_strings)
    command = override(struct_hook=checks.structure_command)
    claude = make_dict_structure_fn(ClaudeSettings, converter, command=command)
    converter.register_structure_hook(ClaudeSettings, checks.structure_table(claude))
    auth = make_dict_structure_fn(
        SecurityPolicy,
        converter,
        secret=override(struct_hook=checks.structure_secret),
        scopes=override(struct_hook=checks.structure_string_table),
    )
    converter.register_structure_hook(SecurityPolicy, checks.structure_table(auth))
    # Sections before Settings: its generated function captures their hooks.
    for cls in (Limits, ServerSettings, AuditSettings, Settings):
        generated = make_dict_structure_fn(cls, converter)
        converter.register_structure_hook(cls, checks.structure_table(generated))
    # TOML has no null: an unset optional key, or an absent [auth], is left out.
    unset = override(omit_if_default=True)
    policy = make_dict_unstructure_fn(
        SecurityPolicy,
        converter,
        jwks_url=unset,
        public_key_file=unset,
        secret=unset,
        token_type=unset,
    )
    converter.register_unstructure_hook(SecurityPolicy, policy)
    converter.register_unstructure_hook(
        Settings, make_dict_unstructure_fn(Settings, converter, auth=unset)
    )
    return converter


_CONVERTER: Final = _make_converter()

__all__ = [
    "DOC",
    "LOG_LEVELS",
    "PERMISSION_MODES",
    "AuditSettings",
    "ClaudeSettings",
    "InvalidSettingError",
    "Limits",
    "ServerSettings",
    "Settings",
    "SettingsError",
    "settings_from_mapping",
    "settings_to_mapping",
]
