"""The ``orch.toml`` file: reading it (plus env overrides), writing its template.

Precedence, lowest first: built-in defaults, the file, then three environment
variables. The environment wins because the Claude Desktop entry written by
``orch claude-desktop-config`` must be able to pin the claude executable and the
allowed roots without editing the user's file.
"""

from __future__ import annotations

import os
import textwrap
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from attrs import evolve, fields, frozen
from returns.result import Failure, Result, Success

from orch_core._scopes import DEFAULT_ACTION_SCOPES
from orch_core._security import SecurityPolicy
from orch_core._settings import (
    DOC,
    AuditSettings,
    ClaudeSettings,
    Limits,
    ServerSettings,
    Settings,
    SettingsError,
    settings_from_mapping,
    settings_to_mapping,
)
from orch_core._settings_checks import EXAMPLE

from ._paths import OrchPaths

ENV_OVERRIDES: Final = (
    ("ORCH_CLAUDE_COMMAND", "claude", "command"),
    ("ORCH_ALLOWED_ROOTS", "server", "allowed_roots"),
    ("ORCH_LOG_LEVEL", "server", "log_level"),
)
"""(variable, section, key): an environment variable that replaces a file setting."""

_SECTIONS: Final = (
    ("server", ServerSettings),
    ("claude", ClaudeSettings),
    ("limits", Limits),
    ("audit", AuditSettings),
)

_AUTH_INTRO: Final = (
    "Which tokens orch accepts, and which scope each tool needs. Without this section"
    " (the default) orch accepts only tokens from the local issuer that `orch init`"
    " created (get one with `orch token issue`). Set it to accept tokens from an identity"
    " provider (jwks_url) or signed with your own key (public_key_file, or an HMAC secret):"
    " uncomment the [auth] line, issuer, audience and one key source, and change the"
    " values. An [auth] line with nothing under it is an error."
)
_AUTH_ALTERNATIVES: Final = {"public_key_file": "Or", "secret": "Or", "token_type": "For example"}
"""Optional ``[auth]`` keys shown beside the sample, not in it: uncommenting every
``# key = value`` line of the block gives a JWKS policy (two key sources would be refused)."""


def load_settings(paths: OrchPaths, environ: Mapping[str, str]) -> Result[Settings, SettingsError]:
    """The settings in effect: defaults, then ``paths.config_file``, then ``environ``.

    A missing file means all defaults. A failure names the dotted key and where
    the bad value came from (the file or the environment variable).
    """
    return _read_toml(paths.config_file).bind(
        lambda data: settings_from_sources(data, environ, paths.config_file)
    )


def settings_from_sources(
    data: Mapping[str, object], environ: Mapping[str, str], source: Path
) -> Result[Settings, SettingsError]:
    """Apply the env overrides to parsed file ``data`` and validate the result."""
    merged = dict(data)
    origin: dict[str, str] = {}
    for variable, section, key in ENV_OVERRIDES:
        raw = environ.get(variable, "")
        table = merged.get(section, {})
        if not raw or not isinstance(table, Mapping):
            continue  # unset; or the file's own `section = 5` will be reported
        value: object = raw  # ORCH_CLAUDE_COMMAND stays a string: the core shlex-splits it
        if variable == "ORCH_ALLOWED_ROOTS":
            value = [root for root in raw.split(os.pathsep) if root]
        merged[section] = {**table, key: value}
        origin[f"{section}.{key}"] = f"set by ${variable}"
    return settings_from_mapping(merged).alt(
        lambda error: evolve(
            error, message=f"{error.message} ({origin.get(error.key, f'in {source}')})"
        )
    )


def _read_toml(path: Path) -> Result[dict[str, Any], SettingsError]:
    try:
        with path.open("rb") as file:
            return Success(tomllib.load(file))
    except FileNotFoundError:
        return Success({})
    except tomllib.TOMLDecodeError as error:  # its message names the line and column
        return Failure(SettingsError(key=str(path), message=f"invalid TOML: {error}"))
    except UnicodeDecodeError as error:
        return Failure(SettingsError(key=str(path), message=f"not UTF-8 text: {error.reason}"))
    except OSError as error:
        return Failure(SettingsError(key=str(path), message=f"cannot read: {error.strerror}"))


def render_default_config() -> str:
    """The full ``orch.toml`` template: every setting, its default, commented out.

    Built from the attrs fields and their ``metadata["doc"]``, so a new setting
    appears here without anyone remembering to add it. Uncommenting every
    ``# key = value`` line yields a file equal to the defaults.
    """
    defaults = settings_to_mapping(Settings())
    variables = ", ".join(variable for variable, _, _ in ENV_OVERRIDES)
    lines = _comment(
        "orch configuration. Every setting is listed with its default value, commented"
        " out: uncomment a line and change the value to override it ([auth], at the end,"
        " shows sample values instead: read its notes). These environment variables"
        f" override this file: {variables}."
    )
    for section, cls in _SECTIONS:
        summary = (cls.__doc__ or "").strip().splitlines()[0]
        lines += ["", f"[{section}]", f"# {summary}"]
        for attribute in fields(cls):
            lines.append("")
            lines += _comment(attribute.metadata[DOC])
            lines.append(f"# {attribute.name} = {_toml_value(defaults[section][attribute.name])}")
    return "\n".join(lines + _auth_lines()) + "\n"


def _auth_lines() -> list[str]:
    """The ``[auth]`` section, every line commented out: an empty ``[auth]`` is an error.

    Required keys and ``jwks_url`` show a sample value; the other optional keys an
    example prefixed so that it is not a ``# key = value`` line (see _AUTH_ALTERNATIVES).
    A new field with neither a default nor an ``EXAMPLE`` makes ``_toml_value`` raise.
    """
    policy_fields = fields(SecurityPolicy)
    lines = ["", "# [auth]", *_comment(_AUTH_INTRO)]
    for attribute in policy_fields:
        if attribute is policy_fields.scopes:
            continue  # a sub-table: it must come after every plain key
        lines += ["", *_comment(attribute.metadata[DOC])]
        setting = (
            f"{attribute.name} = {_toml_value(attribute.metadata.get(EXAMPLE, attribute.default))}"
        )
        prefix = _AUTH_ALTERNATIVES.get(attribute.name)
        lines.append(f"# {prefix}: {setting}" if prefix else f"# {setting}")
    lines += ["", "# [auth.scopes]", *_comment(policy_fields.scopes.metadata[DOC])]
    lines += [
        f"# {action} = {_toml_value(scope)}" for action, scope in DEFAULT_ACTION_SCOPES.items()
    ]
    return lines


def _comment(text: str) -> list[str]:
    return ["# " + line for line in textwrap.wrap(text, 86)]


def _toml_value(value: object) -> str:
    """A TOML literal for the plain values settings hold (bool, int, float, str, list)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")


def _toml_string(text: str) -> str:
    # TOML basic strings forbid raw control characters and DEL; escape those only.
    escaped = "".join(
        f"\\{char}" if char in '"\\' else f"\\u{ord(char):04x}" if _is_control(char) else char
        for char in text
    )
    return f'"{escaped}"'


def _is_control(char: str) -> bool:
    return ord(char) < 0x20 or ord(char) == 0x7F  # the ASCII control range


@frozen(kw_only=True)
class InitReport:
    """What ``init`` did: paths it created, and paths that were already there."""

    created: tuple[Path, ...]
    existing: tuple[Path, ...]


@frozen(kw_only=True)
class InitError:
    """A path ``init`` could not create, and the operating system's reason."""

    path: Path
    message: str


def init(paths: OrchPaths) -> Result[InitReport, InitError]:
    """Create the data dir (0700) and a template config file (0600) if missing.

    Idempotent, and it never touches an existing config file: the user's edits
    survive. Private modes because the database holds conversation transcripts.
    """
    created: list[Path] = []
    existing: list[Path] = []
    for directory in dict.fromkeys((paths.home, paths.config_file.parent)):
        target = existing if directory.is_dir() else created
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as error:
            return Failure(InitError(path=directory, message=error.strerror or str(error)))
        target.append(directory)
    try:
        # O_EXCL: create-or-fail in one step, so an existing file is never rewritten.
        descriptor = os.open(paths.config_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        existing.append(paths.config_file)
    except OSError as error:
        return Failure(InitError(path=paths.config_file, message=error.strerror or str(error)))
    else:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(render_default_config())
        created.append(paths.config_file)
    return Success(InitReport(created=tuple(created), existing=tuple(existing)))
