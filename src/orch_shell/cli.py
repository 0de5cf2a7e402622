"""The ``orch`` command: ``serve`` for Claude Desktop, and the commands that set it up.

``serve`` speaks MCP on stdout, so on that path nothing here may print to
stdout: configuration errors go to stderr, and the exit code says what kind.
The other commands are run by a person in a terminal and report on stdout.
Exit codes: 0 ok, 1 a check or step failed, 2 bad usage or bad configuration.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence

from returns.pipeline import is_successful

from ._audit_cli import add_audit_commands
from ._audit_keys import audit_key_files, ensure_audit_signer
from ._config_file import init, load_settings
from ._desktop_config import desktop_config, print_config, write_config
from ._desktop_config_file import Platform
from ._doctor import run_checks
from ._local_issuer import ensure_local_credentials
from ._logging import configure_logging
from ._paths import OrchPaths, resolve_paths
from ._token_cli import add_token_commands
from ._version import version

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

_Command = Callable[[OrchPaths, Mapping[str, str], argparse.Namespace], int]


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
    return command(resolve_paths(environ), environ, arguments)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="orch", description="Run a team of Claude Code agents from Claude Desktop."
    )
    parser.add_argument("--version", action="version", version=f"orch {version()}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    parsers: dict[str, argparse.ArgumentParser] = {}
    for name, function, summary in (
        ("serve", _serve, "run the MCP server (stdio for Claude Desktop, or --http)"),
        ("init", _init, "create the data directory, orch.toml, keys and your token"),
        ("claude-desktop-config", _desktop, "print (or --write) orch's Claude Desktop entry"),
        ("doctor", _doctor, "check the setup and say how to fix what is wrong"),
        ("status", _status, "show sessions, agents, running turns, cost and health"),
    ):
        parsers[name] = commands.add_parser(name, help=summary, description=summary)
        parsers[name].set_defaults(command=function)
    _serve_options(parsers["serve"])
    parsers["claude-desktop-config"].add_argument(
        "--write",
        action="store_true",
        help="merge the entry into Claude Desktop's config file (a backup is kept)",
    )
    add_token_commands(commands)
    add_audit_commands(commands)
    return parser


def _serve_options(serve: argparse.ArgumentParser) -> None:
    serve.add_argument("--http", action="store_true", help="serve streamable HTTP, not stdio")
    serve.add_argument("--host", default="127.0.0.1", help="HTTP address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8765, help="HTTP port (default 8765; 0: any)")
    serve.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a non-loopback --host (put TLS in front of orch)",
    )
    serve.add_argument(
        "--public-url", help="the URL clients use, if not http://HOST:PORT (behind a proxy)"
    )


def _config_error(message: str) -> int:
    print(f"orch: config error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _serve(paths: OrchPaths, environ: Mapping[str, str], arguments: argparse.Namespace) -> int:
    loaded = load_settings(paths, environ)
    if not is_successful(loaded):
        return _config_error(loaded.failure().describe())
    settings = loaded.unwrap()
    try:
        configure_logging(settings.server.log_level, settings.server.log_file)
    except OSError as error:
        return _config_error(f"server.log_file: cannot open {settings.server.log_file}: {error}")
    # Imported here: they pull in FastMCP (slow, and absent from `orch doctor`'s needs).
    if arguments.http:
        from orch_shell._serve_http import serve_http  # noqa: PLC0415

        return serve_http(
            settings,
            paths,
            host=arguments.host,
            port=arguments.port,
            allow_remote=arguments.allow_remote,
            public_url=arguments.public_url,
        )
    from orch_shell._serve import serve_stdio  # noqa: PLC0415

    return serve_stdio(settings, paths, environ)


def _init(paths: OrchPaths, _environ: Mapping[str, str], _arguments: argparse.Namespace) -> int:
    done = init(paths)
    if not is_successful(done):
        error = done.failure()
        print(f"orch: cannot create {error.path}: {error.message}", file=sys.stderr)
        return EXIT_FAILED
    report = done.unwrap()
    for path in report.created:
        print(f"{'created':<15}{path}")
    for path in report.existing:
        print(f"{'already there':<15}{path}")
    local = ensure_local_credentials(paths, time.time())
    if not is_successful(local):
        print(f"orch: {local.failure()}", file=sys.stderr)
        return EXIT_FAILED
    setup = local.unwrap()
    keys = "created" if setup.keys_created else "already there"
    print(f"{keys:<15}{paths.signing_key} (token signing key, private)")
    audit_key = ensure_audit_signer(paths)
    if not is_successful(audit_key):
        print(f"orch: {audit_key.failure()}", file=sys.stderr)
        return EXIT_FAILED
    made = "created" if audit_key.unwrap()[1] else "already there"
    print(f"{made:<15}{audit_key_files(paths)[0]} (audit signing key, private)")
    token = f"wrote ({setup.why})" if setup.token_written else "already there"
    print(f"{token:<15}{paths.token_file} (your token: keep it private)")
    print(
        f"Settings: {paths.config_file}\n"
        "Next: `orch doctor`, then `orch claude-desktop-config --write` (restart Claude Desktop)."
    )
    return EXIT_OK


def _desktop(paths: OrchPaths, environ: Mapping[str, str], arguments: argparse.Namespace) -> int:
    loaded = load_settings(paths, environ)
    if not is_successful(loaded):
        return _config_error(loaded.failure().describe())
    config = desktop_config(loaded.unwrap(), paths, environ)
    if not arguments.write:
        return print_config(config, sys.stdout, sys.stderr)
    return write_config(
        config,
        environ,
        platform=Platform.current(),
        now=time.time(),
        out=sys.stdout,
        err=sys.stderr,
    )


def _doctor(paths: OrchPaths, environ: Mapping[str, str], _arguments: argparse.Namespace) -> int:
    checks = run_checks(paths, environ)
    for check in checks:
        print(check.render())
    return EXIT_OK if all(check.ok for check in checks) else EXIT_FAILED


def _status(paths: OrchPaths, environ: Mapping[str, str], _arguments: argparse.Namespace) -> int:
    from ._status_cli import run_status  # noqa: PLC0415 - only this command needs it

    return run_status(paths, environ)
