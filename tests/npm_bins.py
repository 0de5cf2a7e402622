"""The real third-party programs that ``tests/package.json`` pins, found or failed.

``npm ci --prefix tests`` installs them into ``tests/node_modules`` (CI does this
before the tests). A missing program fails the test that needs it, because a
skipped test is a test that silently stopped checking anything; only
``ORCH_SKIP_NPM_TESTS=1`` turns the failure into a skip, for a machine without
npm.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import NoReturn

import pytest

NODE_BIN = Path(__file__).resolve().parent / "node_modules" / ".bin"
INSTALL_HINT = "run `npm ci --prefix tests` (or set ORCH_SKIP_NPM_TESTS=1 to skip these tests)"


def npm_bin(name: str) -> Path:
    """The installed ``tests/node_modules/.bin/<name>``; fails (or skips) when absent."""
    path = NODE_BIN / name
    if not (path.is_file() and os.access(path, os.X_OK)):
        _missing(f"{path} is not installed: {INSTALL_HINT}")
    return path


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
