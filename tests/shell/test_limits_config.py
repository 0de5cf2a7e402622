"""The ``[limits]`` table as an operator meets it: in the template ``orch init``
writes, and a bad value stopping ``orch serve`` with exit 2 naming the key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from orch_core import Limits
from orch_shell._config_file import render_default_config
from tests.core.test_limits_settings import ISSUE_KEYS

ORCH = Path(sys.executable).parent / "orch"


def test_the_template_lists_every_limit_with_its_default_under_limits() -> None:
    template = render_default_config()
    section = template[template.index("\n[limits]\n") : template.index("\n[audit]\n")]
    defaults = Limits()
    for key in ISSUE_KEYS:
        assert f"\n# {key} = {getattr(defaults, key)}\n" in section, key
    assert "0 means unlimited" in section
    assert "a restart resets them" in section


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("read_burst = 0", "limits.read_burst: must be greater than 0, got 0"),
        ("message_per_minute = -1", "limits.message_per_minute: must be 0 or more, got -1"),
        ("max_running_turns = 2.5", "limits.max_running_turns: must be an integer, got 2.5"),
        ("max_stdio_line_bytes = 0", "limits.max_stdio_line_bytes: must be greater than 0"),
    ],
)
def test_a_bad_limit_stops_the_server_with_exit_2_naming_the_key(
    tmp_path: Path, line: str, message: str
) -> None:
    home = tmp_path / "data"
    home.mkdir()
    (home / "orch.toml").write_text(f"[limits]\n{line}\n", encoding="utf-8")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ORCH_")}
    result = subprocess.run(
        [str(ORCH), "serve"],
        env={**environ, "ORCH_HOME": str(home)},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"orch: config error: {message}")
