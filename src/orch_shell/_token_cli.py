"""``orch token``: mint tokens with the local key, and say where the user's token is.

``orch token issue --sub NAME --scope agents:message --ttl 7d`` prints a token
(or writes it 0600 with ``--out``) for another person or tool, with only the
scopes it needs. Tokens are secrets: this is the one command that prints one,
and only when asked.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from returns.result import Failure, Result

from orch_core import ALL_SCOPES, SecurityPolicy

from ._config_file import load_settings
from ._keys import parse_duration, write_private_text
from ._local_issuer import issue_token, security_policy
from ._paths import OrchPaths

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def add_token_commands(commands: Any) -> None:
    """Add ``token issue`` and ``token path`` to the ``orch`` parser's subcommands."""
    token = commands.add_parser("token", help="mint tokens, find your token file")
    actions = token.add_subparsers(title="token commands", metavar="ACTION", required=True)
    issue = actions.add_parser("issue", help="mint a token signed by the local key")
    issue.add_argument("--sub", required=True, help="who the token is for (its subject)")
    issue.add_argument(
        "--scope",
        action="append",
        required=True,
        choices=ALL_SCOPES,
        help="a scope to grant; repeat for more",
    )
    issue.add_argument("--ttl", default="30d", help="lifetime, e.g. 12h, 7d, 52w (default 30d)")
    issue.add_argument("--client-id", help="the client_id claim (the calling program)")
    issue.add_argument("--out", help="write the token to this file (0600) instead of stdout")
    issue.set_defaults(command=_issue)
    path = actions.add_parser("path", help="print the path of your local token file")
    path.set_defaults(command=_path)


def _usage_error(
    paths: OrchPaths, environ: Mapping[str, str], arguments: argparse.Namespace
) -> Result[tuple[float, SecurityPolicy], str]:
    """The token's lifetime and the policy to mint for, or what is wrong."""
    if not arguments.sub.strip():
        return Failure("--sub must not be empty")
    return (
        parse_duration(arguments.ttl)
        .alt(lambda error: f"--ttl: {error}")
        .bind(
            lambda ttl: (
                load_settings(paths, environ)
                .map(lambda settings: (ttl, security_policy(settings, paths)))
                .alt(lambda error: f"config error: {error.describe()}")
            )
        )
    )


def _issue(paths: OrchPaths, environ: Mapping[str, str], arguments: argparse.Namespace) -> int:
    checked = _usage_error(paths, environ, arguments)
    if isinstance(checked, Failure):
        print(f"orch: {checked.failure()}", file=sys.stderr)
        return EXIT_USAGE
    ttl, policy = checked.unwrap()
    issued = issue_token(
        paths,
        policy,
        subject=arguments.sub,
        scopes=list(dict.fromkeys(arguments.scope)),
        ttl_seconds=ttl,
        now=time.time(),
        client_id=arguments.client_id,
    )
    if isinstance(issued, Failure):
        print(f"orch: {issued.failure()}", file=sys.stderr)
        return EXIT_FAILED
    if arguments.out is None:
        print(issued.unwrap())
        return EXIT_OK
    try:
        write_private_text(Path(arguments.out).expanduser(), issued.unwrap() + "\n")
    except OSError as error:
        print(f"orch: cannot write {arguments.out}: {error.strerror}", file=sys.stderr)
        return EXIT_FAILED
    print(f"wrote {arguments.out} (0600)", file=sys.stderr)
    return EXIT_OK


def _path(paths: OrchPaths, _environ: Mapping[str, str], _arguments: argparse.Namespace) -> int:
    print(paths.token_file)
    return EXIT_OK
