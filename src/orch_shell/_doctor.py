"""``orch doctor``: check what the server needs, and say how to fix what is wrong.

Each check is independent and never raises: a user runs doctor precisely when
something is broken, so it must report every problem it finds, not the first.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from returns.pipeline import is_successful
from returns.result import Failure, Success

from orch_core._settings import Settings

from ._config_file import load_settings, settings_from_sources
from ._credentials import load_verifier
from ._desktop_config_file import SERVER_NAME, Platform, claude_config_path, read_config
from ._doctor_claude import Check, check_claude_found, check_claude_login, check_claude_version
from ._local_issuer import RENEW_WITHIN
from ._paths import OrchPaths
from ._token_source import TokenSource

__all__ = ["Check", "check_claude_found", "check_claude_version", "run_checks"]

_WRITE_HINT = "run `orch claude-desktop-config --write`, then quit and reopen Claude Desktop"


def run_checks(
    paths: OrchPaths, environ: Mapping[str, str], platform: Platform | None = None
) -> tuple[Check, ...]:
    """All checks, in the order a user would fix them; ``platform`` picks where
    Claude Desktop's config is looked for (default: this machine's)."""
    config, settings = _check_config(paths, environ)
    search_path = environ.get("PATH", os.defpath)
    claude = shutil.which(settings.claude.command[0], path=search_path)
    checks = [config, _check_home(paths.home), _check_database(paths.database)]
    checks.append(_check_token(paths, settings, environ))
    checks.append(check_claude_found(settings.claude.command[0], claude))
    if claude is not None:
        command = [claude, *settings.claude.command[1:]]
        checks.append(check_claude_version([*command, "--version"], environ))
        checks.append(check_claude_login([*command, "auth", "status"], environ))
    checks.append(_check_desktop(paths, environ, platform or Platform.current()))
    return tuple(checks)


def _check_config(paths: OrchPaths, environ: Mapping[str, str]) -> tuple[Check, Settings]:
    """The config check, and the settings the other checks should use."""
    file = paths.config_file
    loaded = load_settings(paths, environ)
    if is_successful(loaded):
        state = "parses" if file.exists() else "not present; using the defaults"
        return Check(name="config", ok=True, detail=f"{file} {state}"), loaded.unwrap()
    error = loaded.failure()
    hint = (
        "fix the TOML syntax at the line named above"
        if error.key == str(file)
        else f"fix or delete `{error.key}` in {file} (or the variable named)"
    )
    # Go on with the environment alone, so the claude checks still say something.
    fallback = settings_from_sources({}, environ, file).value_or(Settings())
    return Check(name="config", ok=False, detail=error.describe(), hint=hint), fallback


def _check_home(home: Path) -> Check:
    if not home.is_dir():
        return Check(name="data dir", ok=False, detail=f"{home} is missing", hint="run `orch init`")
    try:
        # Actually writing is the only reliable test (ACLs, read-only mounts).
        with tempfile.NamedTemporaryFile(dir=home, prefix=".doctor-"):
            pass
    except OSError as error:
        hint = f"make it writable by you: chmod u+rwx {home}"
        return Check(name="data dir", ok=False, detail=f"{home}: {error.strerror}", hint=hint)
    return Check(name="data dir", ok=True, detail=f"{home} is writable")


def _check_database(database: Path) -> Check:
    if not database.exists():
        return Check(name="database", ok=True, detail=f"{database} not created yet (normal)")
    try:
        # Read-only, so doctor cannot change a database the server is using.
        with sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True) as connection:
            rows = connection.execute("PRAGMA integrity_check").fetchall()
        connection.close()
    except sqlite3.Error as error:
        rows = [(str(error),)]
    if rows == [("ok",)]:
        return Check(name="database", ok=True, detail=f"{database} passes integrity_check")
    problem = "; ".join(str(row[0]) for row in rows[:3])
    hint = f"quit Claude Desktop, keep a copy of {database}, then move it aside to start fresh"
    return Check(name="database", ok=False, detail=f"{database}: {problem}", hint=hint)


def _check_token(paths: OrchPaths, settings: Settings, environ: Mapping[str, str]) -> Check:
    """The token the server would start with: the environment's, else the local one."""
    found = TokenSource.from_environ(environ)
    source = found.value_or(TokenSource(path=paths.token_file))
    where = source.describe() if isinstance(found, Success) else f"{paths.token_file} (local)"
    renew = "run `orch init` (it renews the local token) or `orch token issue --out FILE`"
    verifier = load_verifier(settings, paths)
    if isinstance(verifier, Failure):
        return Check(name="token", ok=False, detail=verifier.failure(), hint="run `orch init`")
    now = time.time()
    verified = source.current().bind(lambda token: verifier.unwrap().verify(token, now))
    if isinstance(verified, Failure):
        detail = f"{where}: {verified.failure().message}"
        return Check(name="token", ok=False, detail=detail, hint=renew)
    principal = verified.unwrap()
    days = (principal.expires_at - now) / 86_400 if principal.expires_at else None
    left = "never expires" if days is None else f"expires in {days:.0f} days"
    scopes = " ".join(sorted(principal.scopes)) or "no scopes"
    detail = f"{where}: {principal.subject}, {scopes}; {left}"
    soon = days is not None and days < RENEW_WITHIN / 86_400
    return Check(name="token", ok=True, detail=detail, hint=renew if soon else "")


def _check_desktop(paths: OrchPaths, environ: Mapping[str, str], platform: Platform) -> Check:
    """Claude Desktop's config: it parses, and its orch entry can start this orch."""
    name = "desktop config"
    located = claude_config_path(platform, environ)
    if isinstance(located, Failure):
        return Check(name=name, ok=True, detail=f"not checked: {located.failure()}")
    path = located.unwrap()
    read = read_config(path)
    if isinstance(read, Failure):
        hint = (
            "Claude Desktop starts no server while this file is broken: fix that line (or "
            f"move the file aside) and {_WRITE_HINT}"
        )
        return Check(name=name, ok=False, detail=f"{path}: {read.failure()}", hint=hint)
    config = read.unwrap()
    entry = (config or {}).get("mcpServers", {}).get(SERVER_NAME)
    if entry is None:
        state = "does not exist yet" if config is None else "has no orch entry"
        return Check(name=name, ok=True, detail=f"{path} {state}", hint=_WRITE_HINT)
    problem = _entry_problem(entry)
    if problem:
        return Check(name=name, ok=False, detail=f"{path}: {problem}", hint=_WRITE_HINT)
    env = entry.get("env") or {}
    home = env.get("ORCH_HOME") if isinstance(env, dict) else None
    detail = f"{path}: orch runs {entry['command']}"
    if home and Path(home) != paths.home:
        hint = f"it uses the data folder {home}: run `ORCH_HOME={home} orch doctor` to check that"
        return Check(name=name, ok=True, detail=detail, hint=hint)
    return Check(name=name, ok=True, detail=detail)


def _entry_problem(entry: object) -> str:
    """What stops this ``mcpServers.orch`` entry from starting orch ("": nothing)."""
    if not isinstance(entry, dict) or not isinstance(entry.get("command"), str):
        return 'its "orch" entry has no "command"'
    command = Path(entry["command"])
    if not (command.is_file() and os.access(command, os.X_OK)):
        return f"its orch command {command} does not exist (was orch moved or reinstalled?)"
    env = entry.get("env") or {}
    token_file = env.get("ORCH_TOKEN_FILE") if isinstance(env, dict) else None
    if isinstance(token_file, str) and not Path(token_file).is_file():
        return f"its ORCH_TOKEN_FILE {token_file} does not exist (run `orch init`)"
    return ""
