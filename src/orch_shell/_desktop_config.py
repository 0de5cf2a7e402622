"""``orch claude-desktop-config``: the ``mcpServers`` entry that makes Claude
Desktop start ``orch serve``, printed or (``--write``) merged into its config file.

Claude Desktop starts servers with a minimal environment (on macOS a PATH of
roughly ``/usr/bin:/bin``) and no shell profile. So the entry spells out every
path: the absolute ``orch`` script, the absolute claude executable, and a PATH
in which ``#!/usr/bin/env node`` (the npm claude script's first line) finds node.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from attrs import frozen
from returns.result import Failure

from orch_core._settings import Settings

from ._desktop_config_file import SERVER_NAME, Platform, claude_config_path, write_server_entry
from ._paths import OrchPaths

EXIT_OK = 0
EXIT_FAILED = 1


@frozen(kw_only=True)
class DesktopConfig:
    """The JSON block to print, and warnings for the user (to stderr)."""

    block: dict[str, Any]
    warnings: tuple[str, ...]

    @property
    def entry(self) -> dict[str, Any]:
        """orch's own server entry, the value of ``mcpServers.orch``."""
        return dict(self.block["mcpServers"][SERVER_NAME])


def orch_command() -> tuple[str, list[str]]:
    """How to start this very install of orch: its console script, else ``python -m``."""
    scripts = Path(sys.executable).absolute().parent
    for name in ("orch", "orch.exe"):
        if (scripts / name).is_file():
            return str(scripts / name), []
    return str(Path(sys.executable).absolute()), ["-m", "orch_shell"]


def desktop_config(
    settings: Settings, paths: OrchPaths, environ: Mapping[str, str]
) -> DesktopConfig:
    """The entry for ``claude_desktop_config.json``, resolved against ``environ``'s PATH."""
    warnings: list[str] = []
    search_path = environ.get("PATH", os.defpath)
    command, arguments = orch_command()
    # The token file, not the token: Claude's config may be shared or synced, and
    # `orch token issue --out` renews a file without touching this entry.
    env: dict[str, str] = {"ORCH_HOME": str(paths.home), "ORCH_TOKEN_FILE": str(paths.token_file)}
    if not paths.token_file.exists():
        warnings.append(f"warning: {paths.token_file} does not exist yet; run `orch init`")
    first_dirs: list[str] = []
    program, *rest = settings.claude.command
    claude = shutil.which(program, path=search_path)
    if claude is None:
        warnings.append(
            f"warning: {program!r} was not found on PATH, so ORCH_CLAUDE_COMMAND is left out; "
            "run `orch doctor` for how to fix it, then run this command again"
        )
    else:
        claude_path = Path(claude).absolute()
        # Quoted: the server shlex-splits this, and macOS home paths may hold spaces.
        env["ORCH_CLAUDE_COMMAND"] = shlex.join([str(claude_path), *rest])
        first_dirs.append(str(claude_path.parent))
    node = shutil.which("node", path=search_path)
    if node is not None:
        first_dirs.append(str(Path(node).absolute().parent))
    # The user's own PATH follows, so agents find the same tools (git, uv, ...)
    # as in the terminal where this command was run.
    entries = [*first_dirs, *search_path.split(os.pathsep)]
    env["PATH"] = os.pathsep.join(dict.fromkeys(entry for entry in entries if entry))
    if not paths.pinned and paths.config_file.parent != paths.home and paths.config_file.exists():
        warnings.append(
            f"note: the server will read {paths.home / paths.config_file.name}, "
            f"not {paths.config_file}; move your settings there"
        )
    server = {"command": command, "args": [*arguments, "serve"], "env": env}
    return DesktopConfig(block={"mcpServers": {SERVER_NAME: server}}, warnings=tuple(warnings))


def print_config(config: DesktopConfig, out: TextIO, err: TextIO) -> int:
    """Without ``--write``: the block on ``out``, for the user to merge by hand."""
    for warning in config.warnings:
        print(warning, file=err)
    print(json.dumps(config.block, indent=2), file=out)
    print(
        "Merge this into claude_desktop_config.json (Claude Desktop: Settings > Developer >"
        " Edit Config), or run `orch claude-desktop-config --write`, then restart Claude"
        " Desktop.",
        file=err,
    )
    return EXIT_OK


def write_config(
    config: DesktopConfig,
    environ: Mapping[str, str],
    *,
    platform: Platform,
    now: float,
    out: TextIO,
    err: TextIO,
) -> int:
    """``--write``: merge the entry into Claude Desktop's config file for ``platform``."""
    for warning in config.warnings:
        print(warning, file=err)
    written = claude_config_path(platform, environ).bind(
        lambda path: write_server_entry(path, config.entry, now)
    )
    if isinstance(written, Failure):
        print(f"orch: cannot update Claude Desktop's config: {written.failure()}", file=err)
        return EXIT_FAILED
    report = written.unwrap()
    merged = report.merged
    if report.created_dir:
        print(f"note: {report.path.parent} did not exist: is Claude Desktop installed?", file=err)
    if not merged.changed:
        print(f"{'up to date':<14}{report.path} (orch's entry is already this one)", file=out)
        return EXIT_OK
    if report.backup is not None:
        print(f"{'backed up':<14}{report.backup}", file=out)
    what = "replaced the orch entry" if merged.replaced else "added orch"
    kept = ", ".join(merged.others) or "none"
    print(f"{'wrote':<14}{report.path} ({what}; other servers kept: {kept})", file=out)
    print("Quit Claude Desktop completely and open it again to load orch.", file=out)
    return EXIT_OK
