"""The core does no I/O: no shell, no FastMCP, no clock, ids, environment or processes.

Checked twice: statically (every import and every clock/id/env name in the
source, via ``ast``) and dynamically (importing ``orch_core`` in a fresh
interpreter loads none of the I/O modules). Each check is also run against a
scratch copy of the core with an offending line added, to prove it can fail.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import orch_core

CORE = Path(orch_core.__file__).resolve().parent

FORBIDDEN_IMPORTS = frozenset({
    "orch_shell", "fastmcp", "mcp", "os", "time", "subprocess", "sqlite3", "socket",
    "asyncio", "random", "uuid", "logging", "threading", "pathlib", "shutil", "signal",
})  # fmt: skip
#: Dotted names (matched on whole trailing parts) that read the clock, mint ids or read
#: the environment. A parameter called ``environ`` is fine: the caller passes it in.
FORBIDDEN_NAMES = frozenset({
    "datetime.now", "datetime.utcnow", "datetime.today", "date.today",
    "time.time", "time.monotonic", "time.perf_counter", "uuid4", "uuid1",
    "os.environ", "os.getenv",
})  # fmt: skip
NOT_LOADED = ("orch_shell", "fastmcp", "mcp", "sqlite3", "subprocess", "asyncio")


def dotted(node: ast.expr) -> str | None:
    """``a.b.c`` for an attribute chain on a name, else ``None``."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def violations_in(source: str, where: str) -> list[str]:
    found: list[str] = []
    for node in ast.walk(ast.parse(source, filename=where)):
        modules: list[str] = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
            # `from datetime import datetime` is fine; `from os import environ` is not.
            found += [
                f"{where}:{node.lineno}: imports {alias.name}"
                for alias in node.names
                if alias.name in FORBIDDEN_NAMES
            ]
        found += [
            f"{where}:{node.lineno}: imports {module}"
            for module in modules
            if module.split(".")[0] in FORBIDDEN_IMPORTS
        ]
        if isinstance(node, ast.Name | ast.Attribute):
            name = dotted(node)
            if name is not None and any(
                name == bad or name.endswith("." + bad) for bad in FORBIDDEN_NAMES
            ):
                found.append(f"{where}:{node.lineno}: uses {name}")
    return found


def violations(package: Path) -> list[str]:
    found: list[str] = []
    for module in sorted(package.rglob("*.py")):
        found += violations_in(module.read_text(encoding="utf-8"), module.name)
    return found


def loaded_after_import(src: Path) -> list[str]:
    """The I/O modules a fresh interpreter holds after ``import orch_core`` from ``src``."""
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); import orch_core; "
        f"bad = {NOT_LOADED!r}; "
        "assert orch_core.__file__.startswith(sys.argv[1]), orch_core.__file__; "
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in bad)))"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-c", probe, str(src)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.split()


def test_the_core_imports_nothing_that_does_io() -> None:
    modules = sorted(CORE.rglob("*.py"))
    assert len(modules) > 10  # the walk really found the core
    assert violations(CORE) == []


def test_importing_the_core_loads_no_io_module() -> None:
    assert loaded_after_import(CORE.parent) == []


@pytest.mark.parametrize(
    "line",
    [
        "import os",
        "import os.path",
        "from os import path",
        "from time import monotonic",
        "import uuid as _uuid",
        "from orch_shell import cli",
        "from fastmcp.server import FastMCP",
        "import asyncio, json",
        "from datetime import datetime\nNOW = datetime.now()",
        "import datetime\nNOW = datetime.datetime.now()",
        "from uuid import uuid4",
        "from os import environ",
    ],
)
def test_the_static_check_catches_an_offending_line(line: str, tmp_path: Path) -> None:
    scratch = tmp_path / "orch_core"
    shutil.copytree(CORE, scratch, ignore=shutil.ignore_patterns("__pycache__"))
    target = scratch / "_lifecycle.py"
    target.write_text(target.read_text(encoding="utf-8") + "\n" + line + "\n", encoding="utf-8")
    assert violations(scratch) != []


def test_relative_imports_and_pure_stdlib_pass_the_static_check() -> None:
    source = "from . import _ids\nfrom ._model import State\nimport re\nfrom datetime import UTC\n"
    assert violations_in(source, "ok.py") == []


def test_the_import_check_catches_an_io_module(tmp_path: Path) -> None:
    scratch = tmp_path / "orch_core"
    shutil.copytree(CORE, scratch, ignore=shutil.ignore_patterns("__pycache__"))
    target = scratch / "_ids.py"
    target.write_text(target.read_text(encoding="utf-8") + "\nimport sqlite3\n", encoding="utf-8")
    assert {m.split(".")[0] for m in loaded_after_import(tmp_path)} == {"sqlite3"}
