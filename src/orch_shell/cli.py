"""The ``orch`` command: ``serve`` for Claude Desktop, and the commands that set it up.

``serve`` speaks MCP on stdout, so on that path nothing here may print to
stdout: configuration errors go to stderr, and the exit code says what kind.
The other commands are run by a person in a terminal and report on stdout.
Exit codes: 0 ok, 1 a check or step failed, 2 bad usage or bad configuration.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from importlib import metadata

from returns.pipeline import is_successful

from ._config_file import init, load_settings
from ._desktop_config import desktop_config
from ._doctor import run_checks
from ._logging import configure_logging
from ._paths import OrchPaths, resolve_paths

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

_Command = Callable[[OrchPaths, Mapping[str, str]], int]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``orch`` command line; returns the process exit code."""
    # Before anything can import fastmcp: an update check would be network I/O at
    # start-up; and FastMCP's own (rich, non-JSON) handler would bypass ours, so its
    # records instead propagate to the one JSON-on-stderr handler (see _logging).
    os.environ.setdefault("FASTMCP_CHECK_FOR_UPDATES", "off")
    os.environ.setdefault("FASTMCP_LOG_ENABLED", "false")
    parser = _parser()
    arguments = parser.parse_args(argv)
    command: _Command | None = getattr(arguments, "command", None)
    if command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    environ = dict(os.environ)
    return command(resolve_paths(environ), environ)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="orch", description="Run a team of Claude Code agents from Claude Desktop."
    )
    parser.add_argument("--version", action="version", version=f"orch {_version()}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name, function, summary in (
        ("serve", _serve, "run the MCP server on stdio (Claude Desktop starts this)"),
        ("init", _init, "create the data directory and a commented orch.toml"),
        ("claude-desktop-config", _desktop, "print the entry for claude_desktop_config.json"),
        ("doctor", _doctor, "check the setup and say how to fix what is wrong"),
    ):
        commands.add_parser(name, help=summary, description=summary).set_defaults(command=function)
    return parser


def _version() -> str:
    try:
        return metadata.version("orch")
    except metadata.PackageNotFoundError:  # running from a source tree, not installed
        return "unknown"


def _config_error(message: str) -> int:
    print(f"orch: config error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _serve(paths: OrchPaths, environ: Mapping[str, str]) -> int:
    loaded = load_settings(paths, environ)
    if not is_successful(loaded):
        return _config_error(loaded.failure().describe())
    settings = loaded.unwrap()
    configure_logging(settings.server.log_level)
    # Imported here: it pulls in FastMCP (slow, and absent from `orch doctor`'s needs).
    from orch_shell._serve import serve_stdio  # noqa: PLC0415

    return serve_stdio(settings, paths)


def _init(paths: OrchPaths, _environ: Mapping[str, str]) -> int:
    done = init(paths)
    if not is_successful(done):
        error = done.failure()
        print(f"orch: cannot create {error.path}: {error.message}", file=sys.stderr)
        return EXIT_FAILED
    report = done.unwrap()
    for path in report.created:
        print(f"created        {path}")
    for path in report.existing:
        print(f"already there  {path}")
    print(f"Settings: {paths.config_file}\nNext: `orch doctor`, then `orch claude-desktop-config`.")
    return EXIT_OK


def _desktop(paths: OrchPaths, environ: Mapping[str, str]) -> int:
    loaded = load_settings(paths, environ)
    if not is_successful(loaded):
        return _config_error(loaded.failure().describe())
    config = desktop_config(loaded.unwrap(), paths, environ)
    for warning in config.warnings:
        print(warning, file=sys.stderr)
    print(json.dumps(config.block, indent=2))
    print(
        "Merge this into claude_desktop_config.json (Claude Desktop: Settings > Developer >"
        " Edit Config), then restart Claude Desktop.",
        file=sys.stderr,
    )
    return EXIT_OK


def _doctor(paths: OrchPaths, environ: Mapping[str, str]) -> int:
    checks = run_checks(paths, environ)
    for check in checks:
        print(check.render())
    return EXIT_OK if all(check.ok for check in checks) else EXIT_FAILED
