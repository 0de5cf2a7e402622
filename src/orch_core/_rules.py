"""Domain rules on user input: names, paths, texts, choices.

Each rule returns ``Success(value)`` or a ``Failure(OrchError)`` whose message
names the field and says how to fix it. Types were already checked by FastMCP's
JSON schema; these are the rules a schema cannot express.

>>> agent_name("reviewer").unwrap()
'reviewer'
>>> str(agent_name("Reviewer").failure())  # doctest: +ELLIPSIS
"INVALID_ARGUMENT: name 'Reviewer' is not a valid agent name: ...
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence

from attrs import frozen
from returns.result import Failure, Result, Success

from ._commands import PathFacts
from ._errors import ErrorCode, OrchError, invalid
from ._settings import Limits

AGENT_NAME = re.compile(r"[a-z][a-z0-9_-]{0,31}")


@frozen(kw_only=True)
class Policy:
    """The configured rules the core enforces (built by the shell from ``Settings``).

    ``allowed_roots`` are already resolved (symlinks followed, absolute).
    """

    limits: Limits
    permission_modes: tuple[str, ...]
    allowed_roots: tuple[str, ...]


def agent_name(name: str) -> Result[str, OrchError]:
    """Agent names are short slugs, so they read well in a transcript and a prompt."""
    if AGENT_NAME.fullmatch(name) is None:
        return Failure(
            invalid(
                f"name {name!r} is not a valid agent name: use 1-32 characters, lowercase "
                "letters, digits, '_' or '-', starting with a letter (e.g. 'reviewer')"
            )
        )
    return Success(name)


def session_name(name: str, limits: Limits) -> Result[str, OrchError]:
    """A session name is any printable text, trimmed, up to ``max_name_chars``."""
    trimmed = name.strip()
    if not trimmed:
        return Failure(invalid("name must not be empty"))
    if len(trimmed) > limits.max_name_chars:
        return Failure(
            invalid(f"name is {len(trimmed)} characters; the limit is {limits.max_name_chars}")
        )
    if not trimmed.isprintable():
        return Failure(invalid("name must not contain control characters"))
    return Success(trimmed)


def text(
    field_name: str, value: str, max_bytes: int, *, allow_empty: bool
) -> Result[str, OrchError]:
    """A free text: UTF-8, no NUL (it truncates C strings and argv), bounded in bytes."""
    if "\x00" in value:
        return Failure(invalid(f"{field_name} contains a NUL character; remove it"))
    if not allow_empty and not value.strip():
        return Failure(invalid(f"{field_name} must not be empty"))
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        return Failure(invalid(f"{field_name} is not valid UTF-8 (it contains lone surrogates)"))
    if size > max_bytes:
        return Failure(
            OrchError(
                code=ErrorCode.LIMIT_EXCEEDED,
                message=f"{field_name} is {size} bytes of UTF-8; the limit is {max_bytes} bytes",
            )
        )
    return Success(value)


def choice(
    field_name: str, value: str | None, allowed: Sequence[str]
) -> Result[str | None, OrchError]:
    """An optional value from a configured allow-list."""
    if value is None or value in allowed:
        return Success(value)
    return Failure(
        invalid(f"{field_name} {value!r} is not allowed; use one of {', '.join(allowed)}")
    )


def model_name(value: str | None) -> Result[str | None, OrchError]:
    """A model alias or id as the CLI takes it (``sonnet``, ``claude-opus-4-1``...)."""
    if value is None or re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._:\[\]-]{0,99}", value):
        return Success(value)
    return Failure(invalid(f"model {value!r} is not a model name (letters, digits, '.', '-', ':')"))


def root_path(facts: PathFacts, allowed_roots: Sequence[str]) -> Result[str, OrchError]:
    """The session folder: absolute, existing, a directory, inside an allowed root.

    The check uses the resolved path, so neither ``..`` nor a symlink can lead
    outside the allowed roots.
    """
    if not facts.is_absolute:
        return Failure(invalid(f"root_path {facts.given!r} must be an absolute path"))
    if not facts.exists or facts.resolved is None:
        return Failure(invalid(f"root_path {facts.given!r} does not exist"))
    if not facts.is_dir:
        return Failure(invalid(f"root_path {facts.given!r} is not a directory"))
    if not any(_is_within(facts.resolved, root) for root in allowed_roots):
        return Failure(
            OrchError(
                code=ErrorCode.PATH_NOT_ALLOWED,
                message=f"root_path {facts.given!r} is outside the allowed roots "
                f"({', '.join(allowed_roots)}); choose a folder inside one, or add a root "
                "to server.allowed_roots in orch.toml",
            )
        )
    return Success(facts.resolved)


def _is_within(path: str, root: str) -> bool:
    """Whether ``path`` is ``root`` or below it (both absolute and normalised).

    >>> _is_within("/home/a/proj", "/home/a"), _is_within("/home/ab", "/home/a")
    (True, False)
    """
    path, root = posixpath.normpath(path), posixpath.normpath(root)
    return path == root or path.startswith(root.rstrip("/") + "/")


def all_ok(*checks: Result[object, OrchError]) -> Result[None, OrchError]:
    """The first failure among ``checks``, or ``Success(None)`` when all passed.

    >>> all_ok(Success(1), Failure(invalid("x")), Failure(invalid("y"))).failure().message
    'x'
    """
    for checked in checks:
        if isinstance(checked, Failure):
            return Failure(checked.failure())
    return Success(None)
