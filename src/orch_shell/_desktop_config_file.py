"""Claude Desktop's own config file: where it is, and merging orch's entry into it.

``orch claude-desktop-config --write`` edits a file that belongs to another
program and usually lists the user's other MCP servers (with their secrets in
``env``). So it keeps every other key as it was, writes a backup (same mode as
the original) before changing anything, replaces the file atomically (a crash
leaves the old file or the new one, never half of one) with the original's mode,
writes nothing when orch's entry is already up to date, and refuses to touch a
file it cannot parse.
"""

from __future__ import annotations

import contextlib
import enum
import json
import os
import secrets
import stat
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from attrs import frozen
from returns.result import Failure, Result, Success

CONFIG_NAME: Final = "claude_desktop_config.json"
SERVER_NAME: Final = "orch"
NEW_FILE_MODE: Final = 0o600
"""A new config may later hold other servers' secrets: private from the start."""


class Platform(enum.Enum):
    MACOS = "macos"
    WINDOWS = "windows"
    LINUX = "linux"

    @classmethod
    def current(cls) -> Platform:
        if sys.platform == "darwin":
            return cls.MACOS
        return cls.WINDOWS if sys.platform == "win32" else cls.LINUX


@frozen(kw_only=True)
class DesktopFileError:
    """The config file could not be used; ``message`` says why and what to do."""

    path: Path | None
    message: str

    def __str__(self) -> str:
        return self.message


def claude_config_path(
    platform: Platform, environ: Mapping[str, str]
) -> Result[Path, DesktopFileError]:
    """Where Claude Desktop keeps its config on ``platform``, from ``environ`` only.

    >>> claude_config_path(Platform.LINUX, {"HOME": "/home/ann"}).unwrap().as_posix()
    '/home/ann/.config/Claude/claude_desktop_config.json'
    """
    home = environ.get("HOME") or environ.get("USERPROFILE") or ""
    if platform is Platform.MACOS:
        base = home and str(Path(home) / "Library" / "Application Support")
    elif platform is Platform.WINDOWS:
        base = environ.get("APPDATA") or (home and str(Path(home) / "AppData" / "Roaming"))
    else:  # Electron's userData: $XDG_CONFIG_HOME, else ~/.config
        xdg = environ.get("XDG_CONFIG_HOME", "")
        base = xdg if Path(xdg).is_absolute() else home and str(Path(home) / ".config")
    if not base:
        where = "APPDATA or HOME" if platform is Platform.WINDOWS else "HOME"
        return Failure(DesktopFileError(path=None, message=f"{where} is not set"))
    return Success(Path(base).absolute() / "Claude" / CONFIG_NAME)


@frozen(kw_only=True)
class Merged:
    """The config with orch's entry in it: its new text, and what changed."""

    text: str
    changed: bool
    replaced: bool
    """An ``orch`` entry was there before (now overwritten)."""
    others: tuple[str, ...]
    """The other servers, kept as they were."""


def merge_server(
    existing: str | None, entry: Mapping[str, Any], name: str = SERVER_NAME
) -> Result[Merged, str]:
    """``existing`` config text (None: no file) with ``mcpServers[name] = entry``.

    >>> merged = merge_server('{"mcpServers": {"git": {"command": "git-mcp"}}}', {"command": "o"})
    >>> merged.unwrap().others, json.loads(merged.unwrap().text)["mcpServers"]["orch"]
    (('git',), {'command': 'o'})
    >>> merge_server('{"mcpServers": [', {}).failure()
    'it is not valid JSON (line 1, column 17: Expecting value)'
    """
    config: Any = {}
    if existing is not None and existing.strip():
        try:
            config = json.loads(existing)
        except json.JSONDecodeError as error:
            return Failure(
                f"it is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})"
            )
    if not isinstance(config, dict):
        return Failure(f"its top level is a JSON {type(config).__name__}, not an object")
    servers = config.get("mcpServers", {})
    if not isinstance(servers, dict):
        return Failure(f'its "mcpServers" is a JSON {type(servers).__name__}, not an object')
    updated = {**config, "mcpServers": {**servers, name: dict(entry)}}
    return Success(
        Merged(
            text=json.dumps(updated, indent=2, ensure_ascii=False) + "\n",
            changed=updated != config,
            replaced=name in servers,
            others=tuple(key for key in servers if key != name),
        )
    )


@frozen(kw_only=True)
class WriteReport:
    path: Path
    merged: Merged
    backup: Path | None
    """Where the previous file was copied (None: there was none, or nothing changed)."""
    created_dir: bool


def write_server_entry(
    path: Path, entry: Mapping[str, Any], now: float
) -> Result[WriteReport, DesktopFileError]:
    """Merge ``entry`` into the config at ``path``: backup first, then an atomic write.

    A symlinked config (dotfiles) is followed: the link's target is replaced.
    """
    target = path.resolve()
    try:
        existing = target.read_bytes() if target.exists() else None
    except OSError as error:
        return _failed(target, f"cannot read {target}: {error.strerror}")
    text = None if existing is None else existing.decode("utf-8-sig", "replace")
    merged = merge_server(text, entry)
    if isinstance(merged, Failure):
        why = merged.failure()
        return _failed(target, f"{target} was left as it was: {why}. Fix it, then run again.")
    result = merged.unwrap()
    report = WriteReport(path=target, merged=result, backup=None, created_dir=False)
    if not result.changed:
        return Success(report)
    try:
        created = not target.parent.exists()
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        mode = NEW_FILE_MODE if existing is None else stat.S_IMODE(target.stat().st_mode)
        backup = None if existing is None else _backup(target, existing, mode, now)
        _atomic_write(target, result.text.encode(), mode)
    except OSError as error:
        return _failed(target, f"cannot write {error.filename or target}: {error.strerror}")
    return Success(WriteReport(path=target, merged=result, backup=backup, created_dir=created))


def _failed(path: Path, message: str) -> Result[WriteReport, DesktopFileError]:
    return Failure(DesktopFileError(path=path, message=message))


def _backup(path: Path, data: bytes, mode: int, now: float) -> Path:
    """Copy ``data`` beside ``path`` under a new, dated name; never overwrite one."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now))
    for attempt in range(100):
        suffix = "" if attempt == 0 else f"-{attempt}"
        backup = path.with_name(f"{path.name}.orch-backup-{stamp}{suffix}")
        try:
            fd = os.open(backup, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _CLOEXEC, mode)
        except FileExistsError:
            continue
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            if hasattr(os, "fchmod"):
                os.fchmod(file.fileno(), mode)
            os.fsync(file.fileno())
        return backup
    raise FileExistsError(0, "too many backups with the same time", str(path))


_CLOEXEC: Final = getattr(os, "O_CLOEXEC", 0)


def _atomic_write(path: Path, data: bytes, mode: int) -> None:
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            if hasattr(os, "fchmod"):  # the original's mode, not the umask's
                os.fchmod(file.fileno(), mode)
            os.fsync(file.fileno())
        temporary.replace(path)
    except OSError:
        temporary.unlink(missing_ok=True)
        raise
    with contextlib.suppress(OSError):  # make the rename durable (POSIX only)
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def read_config(path: Path) -> Result[dict[str, Any] | None, str]:
    """The parsed config at ``path`` (None: no file), or why it cannot be used."""
    try:
        if not path.exists():
            return Success(None)
        text = path.read_bytes().decode("utf-8-sig", "replace")
    except OSError as error:
        return Failure(f"cannot read it: {error.strerror}")
    merged = merge_server(text, {})  # the same checks as a write would make
    if isinstance(merged, Failure):
        return Failure(merged.failure())
    return Success(json.loads(text) if text.strip() else {})
