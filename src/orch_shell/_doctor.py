"""``orch doctor``: check what the server needs, and say how to fix what is wrong.

Each check is independent and never raises: a user runs doctor precisely when
something is broken, so it must report every problem it finds, not the first.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

from attrs import frozen
from returns.pipeline import is_successful
from returns.result import Failure, Success

from orch_core._settings import Settings

from ._config_file import load_settings, settings_from_sources
from ._credentials import load_verifier
from ._local_issuer import RENEW_WITHIN
from ._paths import OrchPaths
from ._token_source import TokenSource

VERSION_TIMEOUT_SECONDS: Final = 10.0
_VERSION = re.compile(r"\d+\.\d+\.\d+")


@frozen(kw_only=True)
class Check:
    """One line of the report: what was checked, whether it passed, what to do."""

    name: str
    ok: bool
    detail: str
    hint: str = ""

    def render(self) -> str:
        line = f"{'ok' if self.ok else 'FAIL':<4}  {self.name}: {self.detail}"
        return f"{line}\n      hint: {self.hint}" if self.hint else line


def run_checks(paths: OrchPaths, environ: Mapping[str, str]) -> tuple[Check, ...]:
    """All checks, in the order a user would fix them."""
    config, settings = _check_config(paths, environ)
    search_path = environ.get("PATH", os.defpath)
    claude = shutil.which(settings.claude.command[0], path=search_path)
    checks = [config, _check_home(paths.home), _check_database(paths.database)]
    checks.append(_check_token(paths, settings, environ))
    checks.append(check_claude_found(settings.claude.command[0], claude))
    if claude is not None:
        command = [claude, *settings.claude.command[1:], "--version"]
        checks.append(check_claude_version(command, environ))
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


def check_claude_found(name: str, resolved: str | None) -> Check:
    if resolved is None:
        hint = (
            "install Claude Code (`npm install -g @anthropic-ai/claude-code`) and check that "
            "`which claude` finds it, or set [claude] command in orch.toml to its absolute path"
        )
        return Check(name="claude", ok=False, detail=f"{name!r} not found on PATH", hint=hint)
    return Check(name="claude", ok=True, detail=f"{name!r} is {resolved}")


def check_claude_version(command: Sequence[str], environ: Mapping[str, str]) -> Check:
    shown = " ".join(command)
    hint = f"run `{shown}` in a terminal and fix what it reports (login, node, network)"
    try:
        output, code = _run_bounded(command, environ, VERSION_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        detail = f"`{shown}` gave no answer within {VERSION_TIMEOUT_SECONDS:g} s"
        return Check(name="claude version", ok=False, detail=detail, hint=hint)
    except OSError as error:
        detail = f"`{shown}` could not start: {error.strerror}"
        return Check(name="claude version", ok=False, detail=detail, hint=hint)
    last = output.strip().splitlines()[-1:] or [""]
    if code != 0 or not _VERSION.search(output):
        detail = f"`{shown}` exited {code}: {last[0][:200] or 'no output'}"
        return Check(name="claude version", ok=False, detail=detail, hint=hint)
    return Check(name="claude version", ok=True, detail=last[0][:200])


def _run_bounded(
    command: Sequence[str], environ: Mapping[str, str], timeout: float
) -> tuple[str, int]:
    """Run ``command``; on timeout kill its whole process group, not just the child.

    Killing only the child could leave a grandchild holding the pipes open, and
    reading them would then hang the doctor that was meant to diagnose a hang.
    """
    process = subprocess.Popen(  # noqa: S603 - the user's own configured command
        list(command),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=dict(environ),
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        if hasattr(os, "killpg"):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        process.kill()
        process.communicate()
        raise
    return output.decode("utf-8", "replace"), process.returncode
