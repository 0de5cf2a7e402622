"""``orch doctor``'s checks of the ``claude`` CLI: found, answers, logged in.

They run the user's own configured command, bounded in time, and never raise.
The login check asks ``claude auth status`` (JSON, no model call, no cost): a
turn without a login does not fail to start, it "succeeds" with the reply
``Not logged in · Please run /login``, so without this check a user would only
find out from the first agent's answer.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
from collections.abc import Mapping, Sequence
from typing import Any, Final

from attrs import frozen

VERSION_TIMEOUT_SECONDS: Final = 10.0
_VERSION = re.compile(r"\d+\.\d+\.\d+")
LOGIN_HINT: Final = (
    "run `claude` once in a terminal and log in (type /login); agents use the login kept "
    "in your HOME, so log in as the user who runs Claude Desktop"
)


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
    ran = _run_checked("claude version", command, environ, hint)
    if isinstance(ran, Check):
        return ran
    output, code = ran
    last = output.strip().splitlines()[-1:] or [""]
    if code != 0 or not _VERSION.search(output):
        detail = f"`{shown}` exited {code}: {last[0][:200] or 'no output'}"
        return Check(name="claude version", ok=False, detail=detail, hint=hint)
    return Check(name="claude version", ok=True, detail=last[0][:200])


def check_claude_login(command: Sequence[str], environ: Mapping[str, str]) -> Check:
    """``command`` is ``claude auth status``; it prints JSON with ``loggedIn``."""
    shown = " ".join(command)
    ran = _run_checked("claude login", command, environ, LOGIN_HINT)
    if isinstance(ran, Check):
        return ran
    output, code = ran
    status = _json_object(output)
    if status.get("loggedIn") is True:
        how = status.get("authMethod") or "unknown method"
        return Check(name="claude login", ok=True, detail=f"logged in ({how})")
    said = next((line for line in output.splitlines() if "not logged in" in line.lower()), "")
    if status.get("loggedIn") is False or said:
        detail = f"not logged in (`{shown}` exited {code}{': ' + said.strip() if said else ''})"
        return Check(name="claude login", ok=False, detail=detail[:300], hint=LOGIN_HINT)
    detail = f"`{shown}` did not say (exit {code}); an older CLI has no `auth status`"
    hint = "if agents reply 'Not logged in · Please run /login': " + LOGIN_HINT
    return Check(name="claude login", ok=True, detail=detail, hint=hint)


def _json_object(output: str) -> dict[str, Any]:
    """The JSON object in ``output`` (stderr lines may surround it), else ``{}``."""
    start, end = output.find("{"), output.rfind("}")
    try:
        found = json.loads(output[start : end + 1]) if 0 <= start < end else {}
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _run_checked(
    name: str, command: Sequence[str], environ: Mapping[str, str], hint: str
) -> tuple[str, int] | Check:
    """The output and exit code of ``command``, or the failed check saying why not."""
    shown = " ".join(command)
    try:
        return _run_bounded(command, environ, VERSION_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        detail = f"`{shown}` gave no answer within {VERSION_TIMEOUT_SECONDS:g} s"
    except OSError as error:
        detail = f"`{shown}` could not start: {error.strerror}"
    return Check(name=name, ok=False, detail=detail, hint=hint)


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
