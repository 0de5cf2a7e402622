"""The benchmarks still run: each at a tiny size, as ``make test`` does on every change."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


def run_smoke(script: str, results: Path) -> tuple[str, dict[str, Any]]:
    """Run ``script --smoke`` writing into ``results`` (which holds another key already);
    its stdout and the results, checking the other key was kept."""
    results.write_text(json.dumps({"another_benchmark": {"kept": True}}))
    run = subprocess.run(
        [sys.executable, str(BENCH / script), "--smoke", "--results", str(results)],
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    written: dict[str, Any] = json.loads(results.read_text())
    assert written["another_benchmark"] == {"kept": True}
    return run.stdout, written


@pytest.mark.timeout(120)
def test_metrics_overhead_smoke_merges_its_results(tmp_path: Path) -> None:
    stdout, written = run_smoke("bench_metrics_overhead.py", tmp_path / "results.json")
    assert "on/off: median" in stdout
    summary = written["metrics_overhead"]
    assert summary["metrics_on"]["calls"] == summary["metrics_off"]["calls"] == 10
    assert summary["median_ratio"] > 0


@pytest.mark.timeout(120)
def test_audit_smoke_verifies_its_log_and_merges_its_results(tmp_path: Path) -> None:
    stdout, written = run_smoke("bench_audit.py", tmp_path / "results.json")
    assert "orch audit verify (subprocess)" in stdout
    summary = written["audit"]
    append = summary["append"]
    assert append["appends_per_repetition"] == 200
    assert append["checkpoint_every_100"]["median_per_s"] > 0
    assert append["no_checkpoints"]["median_per_s"] > 0
    assert summary["verify"]["records"] == 1_000
    assert summary["verify"]["checkpoints"] == 10


@pytest.mark.timeout(120)
def test_fairness_smoke_serves_b_during_a_flood_and_merges_its_results(tmp_path: Path) -> None:
    stdout, written = run_smoke("bench_fairness.py", tmp_path / "results.json")
    assert "A flood:" in stdout
    summary = written["fairness"]
    assert summary["b_under_flood"]["calls"] > 0
    assert summary["b_under_flood"]["errors"] == 0
    assert summary["b_under_flood"]["p99_ms"] > 0
    flood = summary["a_flood"]
    assert flood["calls"] == flood["admitted"] + flood["rate_limited"] + flood["other_errors"]
    assert flood["other_errors"] == 0


@pytest.mark.timeout(120)
def test_vs_bare_smoke_compares_orch_with_the_bare_server(tmp_path: Path) -> None:
    stdout, written = run_smoke("bench_vs_bare.py", tmp_path / "results.json")
    assert "read: get_session_status" in stdout
    summary = written["vs_bare"]
    assert summary["read"]["orch"]["n"] == summary["read"]["baseline"]["n"] == 10
    assert summary["write_pair"]["orch"]["n"] == summary["write_pair"]["baseline"]["n"] == 4
    for measure in ("read", "write_pair", "startup", "idle_rss"):
        assert summary[measure]["ratio"] > 0
        assert isinstance(summary[measure]["passed"], bool)
    assert summary["idle_rss"]["baseline"]["median_mib"] > 10
    # The report reads what the run wrote: one row per measure, with its verdict.
    report = subprocess.run(
        [sys.executable, str(BENCH / "report.py"), "--results", str(tmp_path / "results.json")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    rows = [line for line in report.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) == 1 + 4  # the header and vs_bare's four measures
    assert all(row.rstrip(" |").endswith(("yes", "**no**")) for row in rows[1:])


@pytest.mark.timeout(120)
def test_parallel_smoke_runs_every_turn_to_completion(tmp_path: Path) -> None:
    stdout, written = run_smoke("bench_parallel.py", tmp_path / "results.json")
    assert "get_session_status under that load" in stdout
    summary = written["parallel_turns"]
    assert summary["agents"] == 4
    # Every send completed (else the run fails), so no round can beat the turn itself.
    assert summary["wall"]["orch"]["median_s"] >= summary["turn_seconds"]
    assert summary["wall"]["bare_server"]["median_s"] >= summary["turn_seconds"]
    assert summary["status"]["under_load"]["n"] > 0
    assert summary["status"]["bare_under_load"]["n"] > 0
    # The server logged its side of those calls (plus, maybe, the one in flight when the
    # poller stopped), at most what the client waited.
    server = summary["status"]["server_side_under_load"]
    assert 0 < server["n"] <= summary["status"]["under_load"]["n"] + 1
    assert server["median_ms"] <= summary["status"]["under_load"]["median_ms"]


@pytest.mark.timeout(120)
def test_scale_smoke_restarts_on_a_built_store(tmp_path: Path) -> None:
    stdout, written = run_smoke("bench_scale.py", tmp_path / "results.json")
    assert "scale: restart to first answer" in stdout
    summary = written["scale"]
    assert (summary["sessions"], summary["turns"]) == (20, 2_000)
    assert summary["status"]["orch"]["n"] == summary["status"]["baseline"]["n"] == 10
    assert summary["restart"]["orch"]["n"] == 1
    assert summary["store_load"]["big"]["median_ms"] > 0
