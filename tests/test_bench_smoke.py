"""The benchmarks still run: each at a tiny size, as ``make test`` does on every change."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.mark.timeout(120)
def test_metrics_overhead_smoke_merges_its_results(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"another_benchmark": {"kept": True}}))
    run = subprocess.run(
        [
            sys.executable,
            str(BENCH / "bench_metrics_overhead.py"),
            "--smoke",
            "--results",
            str(results),
        ],
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "on/off: median" in run.stdout
    written = json.loads(results.read_text())
    assert written["another_benchmark"] == {"kept": True}
    summary = written["metrics_overhead"]
    assert summary["metrics_on"]["calls"] == summary["metrics_off"]["calls"] == 10
    assert summary["median_ratio"] > 0
