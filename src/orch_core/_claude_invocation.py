"""The command line and environment of one agent turn's ``claude`` process, pure.

A turn is ``claude -p --output-format stream-json --verbose`` with the message on
stdin. The environment is an allow-list so that the server's own secrets never
reach an agent; the shell supplies the real environment. What the process prints
is read by :class:`~orch_core._claude_cli.StreamParser`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

_ALLOWED_NAMES = frozenset({
    "HOME", "PATH", "USER", "LOGNAME", "SHELL", "TMPDIR", "TERM", "LANG", "TZ",
    "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "https_proxy", "http_proxy", "no_proxy",
    "NODE_EXTRA_CA_CERTS", "CLAUDE_CONFIG_DIR",
    "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME",
})  # fmt: skip
_ALLOWED_PREFIXES = ("LC_", "ANTHROPIC_", "CLAUDE_CODE_", "DISABLE_")


def build_argv(
    command: Sequence[str],
    *,
    resume_id: str | None,
    model: str | None,
    permission_mode: str | None,
    role: str,
) -> tuple[str, ...]:
    """The command line for one headless turn; the message itself goes to stdin.

    Keeping the message out of argv keeps it out of ``ps`` and clear of argv limits.

    >>> build_argv(["claude"], resume_id="abc", model=None, permission_mode=None, role="")
    ('claude', '-p', '--output-format', 'stream-json', '--verbose', '--resume', 'abc')
    """
    argv = [*command, "-p", "--output-format", "stream-json", "--verbose"]
    if resume_id is not None:
        argv += ["--resume", resume_id]
    if model is not None:
        argv += ["--model", model]
    if permission_mode is not None:
        argv += ["--permission-mode", permission_mode]
    if role:
        argv += ["--append-system-prompt", role]
    return tuple(argv)


def agent_environment(
    environ: Mapping[str, str], extra_names: Sequence[str] = ()
) -> dict[str, str]:
    """The environment an agent process gets: an allow-list, never the server's own.

    ``CLAUDECODE`` (it makes the CLI think it is nested) and every ``ORCH_*`` name
    (the server's tokens and keys) are dropped even when asked for by name.

    >>> env = {"HOME": "/h", "LC_ALL": "C", "ANTHROPIC_API_KEY": "k", "CLAUDECODE": "1",
    ...        "ORCH_TOKEN": "secret", "AWS_SECRET": "x", "MY_VAR": "y"}
    >>> sorted(agent_environment(env, extra_names=["MY_VAR", "ORCH_TOKEN", "CLAUDECODE"]))
    ['ANTHROPIC_API_KEY', 'HOME', 'LC_ALL', 'MY_VAR']
    """
    extra = frozenset(extra_names)

    def allowed(name: str) -> bool:
        if name == "CLAUDECODE" or name.startswith("ORCH_"):
            return False
        return name in _ALLOWED_NAMES or name in extra or name.startswith(_ALLOWED_PREFIXES)

    return {name: value for name, value in environ.items() if allowed(name)}
