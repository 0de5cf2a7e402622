"""The per-value checks behind ``Settings``, each written once.

Two kinds: cattrs structuring hooks (``structure_*``) check the *type* of a value
read from TOML, strictly; attrs validators check its *range* at construction.
Both raise :class:`InvalidSettingError`, so a bad value built directly fails
loudly (a bug), and one read from a file becomes a ``SettingsError`` naming its
dotted key (:func:`first_error`, used by ``settings_from_mapping``).
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Callable, Mapping
from typing import Any, Final, TypeVar

from attrs import Attribute, fields, frozen
from cattrs.errors import AttributeValidationNote, ClassValidationError, ForbiddenExtraKeysError

DOC: Final = "doc"
"""The attrs metadata key holding a field's explanation for users (the template's comment)."""
EXAMPLE: Final = "example"
"""The attrs metadata key holding a sample value for a setting that has no default."""

PERMISSION_MODES: Final = ("default", "acceptEdits", "plan", "bypassPermissions", "dontAsk", "auto")
"""The ``--permission-mode`` values the Claude Code CLI knows."""

LOG_LEVELS: Final = ("debug", "info", "warning", "error")

_T = TypeVar("_T")

# A path is absolute if it starts at a POSIX root, a Windows drive or a UNC share.
# Checked on the string so the core needs no os.path (which would consult the host).
_ABSOLUTE = re.compile(r"\A(/|[A-Za-z]:[\\/]|\\\\)")
_ENV_NAME = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]*\Z")


@frozen(kw_only=True)
class SettingsError:
    """Why settings were refused: the dotted TOML key (or file) and what is wrong.

    >>> SettingsError(key="server.log_level", message="must be one of debug, info").describe()
    'server.log_level: must be one of debug, info'
    """

    key: str
    message: str

    def describe(self) -> str:
        """The one line a user sees, e.g. after ``orch: config error:``."""
        return f"{self.key}: {self.message}"


class InvalidSettingError(ValueError):
    """A value outside its allowed range; ``name`` is the field, when known.

    Raised by the validators (so direct construction fails loudly, as a bug
    would) and by the structuring hooks; ``settings_from_mapping`` turns it into
    a ``SettingsError``.
    """

    def __init__(self, message: str, name: str | None = None) -> None:
        super().__init__(message)
        self.name = name


def positive(_instance: object, attribute: Attribute[Any], value: float) -> None:
    if not math.isfinite(value):
        raise InvalidSettingError(f"must be a finite number, got {value!r}", attribute.name)
    if value <= 0:
        raise InvalidSettingError(f"must be greater than 0, got {value!r}", attribute.name)


def non_negative(_instance: object, attribute: Attribute[Any], value: float) -> None:
    if not math.isfinite(value) or value < 0:
        raise InvalidSettingError(f"must be 0 or more, got {value!r}", attribute.name)


def grace(_instance: object, attribute: Attribute[float], value: float) -> None:
    if not 0 <= value <= 300:  # five minutes is already an eternity to wait
        raise InvalidSettingError(
            f"must be between 0 and 300 seconds, got {value!r}", attribute.name
        )


def command(
    _instance: object, attribute: Attribute[tuple[str, ...]], value: tuple[str, ...]
) -> None:
    if not value or not value[0]:
        raise InvalidSettingError('must name a program, e.g. "claude"', attribute.name)


def modes(_instance: object, attribute: Attribute[tuple[str, ...]], value: tuple[str, ...]) -> None:
    if not value:
        raise InvalidSettingError("must allow at least one mode", attribute.name)
    for mode in value:
        if mode not in PERMISSION_MODES:
            known = ", ".join(PERMISSION_MODES)
            raise InvalidSettingError(f"unknown mode {mode!r}; known: {known}", attribute.name)


def env_names(
    _instance: object, attribute: Attribute[tuple[str, ...]], value: tuple[str, ...]
) -> None:
    for name in value:
        if not _ENV_NAME.match(name):
            raise InvalidSettingError(
                f"{name!r} is not an environment variable name", attribute.name
            )


def log_level(_instance: object, attribute: Attribute[str], value: str) -> None:
    if value not in LOG_LEVELS:
        known = ", ".join(LOG_LEVELS)
        raise InvalidSettingError(f"must be one of {known}, got {value!r}", attribute.name)


def is_absolute(path: str) -> bool:
    """Whether ``path`` is absolute on POSIX or Windows (and holds no NUL)."""
    return bool(_ABSOLUTE.match(path)) and "\0" not in path


def absolute(
    _instance: object, attribute: Attribute[tuple[str, ...]], value: tuple[str, ...]
) -> None:
    for root in value:
        if not is_absolute(root):
            message = f"{root!r} is not an absolute path (write it in full; ~ is not expanded)"
            raise InvalidSettingError(message, attribute.name)


def absolute_or_empty(_instance: object, attribute: Attribute[str], value: str) -> None:
    if value and not is_absolute(value):
        raise InvalidSettingError(f"{value!r} is not an absolute path", attribute.name)


def structure_bool(value: object, _type: object) -> bool:
    # `metrics = "no"` or `metrics = 0` is a mistake, not a truth value to guess.
    if not isinstance(value, bool):
        raise InvalidSettingError(f"must be true or false, got {value!r}")
    return value


def structure_int(value: object, _type: object) -> int:
    # bool is an int subclass; `limit = true` is a mistake, not 1.
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidSettingError(f"must be an integer, got {value!r}")
    return value


def structure_float(value: object, _type: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidSettingError(f"must be a number, got {value!r}")
    return float(value)


def structure_str(value: object, _type: object) -> str:
    if not isinstance(value, str):
        raise InvalidSettingError(f"must be a string, got {value!r}")
    return value


def structure_secret(value: object, _type: object) -> str:
    # Unlike structure_str, never echo the value: it may be (a mistyped) secret.
    if not isinstance(value, str):
        raise InvalidSettingError(f"must be a string, not {type(value).__name__}")
    return value


def structure_string_table(value: object, _type: object) -> dict[str, str]:
    """A ``[section.table]`` of ``key = "text"`` lines, kept as a plain dict."""
    if not isinstance(value, Mapping):
        raise InvalidSettingError(f"must be a table, got {value!r}")
    for key, item in value.items():
        if not isinstance(item, str):
            raise InvalidSettingError(f"{key}: must be a string, got {item!r}")
    return dict(value)


def structure_strings(value: object, _type: object) -> tuple[str, ...]:
    # A bare string is iterable; without this check "abc" would become ('a', 'b', 'c').
    if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
        raise InvalidSettingError(f"must be a list of strings, got {value!r}")
    return tuple(value)


def structure_command(value: object, _type: object) -> tuple[str, ...]:
    """A command may be one shell-like string (``"npx -y claude"``) or a list."""
    if isinstance(value, str):
        try:
            return tuple(shlex.split(value))
        except ValueError as error:
            raise InvalidSettingError(f"cannot be split like a shell line: {error}") from error
    return structure_strings(value, _type)


def structure_table(
    structure: Callable[[Mapping[str, Any], Any], _T],
) -> Callable[[object, Any], _T]:
    """Refuse a scalar where a ``[section]`` belongs, with a message, not a TypeError."""

    def structure_checked(value: object, cls: Any) -> _T:
        if not isinstance(value, Mapping):
            raise InvalidSettingError(f"must be a table, got {value!r}")
        return structure(value, cls)

    return structure_checked


def is_strings(cls: object) -> bool:
    """The cattrs predicate for ``tuple[str, ...]`` (a generic alias, not a class)."""
    return cls == tuple[str, ...]


def first_error(error: BaseException, path: tuple[str, ...] = ()) -> SettingsError:
    """Walk cattrs' exception groups down to the first leaf, collecting the key path."""
    if isinstance(error, ClassValidationError):
        inner = error.exceptions[0]
        notes = getattr(inner, "__notes__", ())
        names = tuple(note.name for note in notes if isinstance(note, AttributeValidationNote))
        return first_error(inner, path + names)
    if isinstance(error, ForbiddenExtraKeysError):
        known = ", ".join(attribute.name for attribute in fields(error.cl))
        key = min(error.extra_fields)
        return SettingsError(key=_dotted((*path, key)), message=f"unknown setting (known: {known})")
    if isinstance(error, KeyError):  # cattrs: a field without a default was not given
        return SettingsError(key=_dotted(path), message="required, but not set")
    name = error.name if isinstance(error, InvalidSettingError) and error.name else None
    return SettingsError(key=_dotted((*path, name) if name else path), message=str(error))


def _dotted(path: tuple[str, ...]) -> str:
    return ".".join(path) or "(top level)"
