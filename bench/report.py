"""The targets table of the latest ``make bench``, from ``bench/results.json`` (Markdown).

Usage: ``python bench/report.py [--results bench/results.json]``. Each row is one
measure of issue 9's list, orch against its baseline from the same run, the
target, and whether it held. Rows whose benchmark has not run are left out.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results.json"

Row = tuple[str, str, str, str, str, bool | None]
"""(measure, orch, baseline, ratio, target, held)"""


def _ms(value: float) -> str:
    return f"{value:.2f} ms" if value < 100 else f"{value:.0f} ms"


def _ratio_row(name: str, part: dict[str, Any], target: str) -> Row:
    return (
        name,
        f"{_ms(part['orch']['median_ms'])} (p99 {_ms(part['orch']['p99_ms'])})",
        f"{_ms(part['baseline']['median_ms'])} (p99 {_ms(part['baseline']['p99_ms'])})",
        f"{part['ratio']:.2f}x",
        target,
        bool(part["passed"]),
    )


def _vs_bare(result: dict[str, Any]) -> list[Row]:
    rss = result["idle_rss"]
    return [
        _ratio_row("read: `get_session_status` over stdio", result["read"], "≤ 1.25x"),
        _ratio_row("write: `create_agent` + `delete_agent`", result["write_pair"], "≤ 2x"),
        _ratio_row("start-up to first `tools/list`", result["startup"], "≤ 1.3x"),
        (
            "idle RSS",
            f"{rss['orch']['median_mib']:.1f} MiB",
            f"{rss['baseline']['median_mib']:.1f} MiB",
            f"{rss['ratio']:.2f}x",
            "≤ 1.3x",
            bool(rss["passed"]),
        ),
    ]


def _parallel(result: dict[str, Any]) -> list[Row]:
    wall, status = result["wall"], result["status"]
    turn = result["turn_seconds"]
    return [
        (
            f"{result['agents']} turns of {turn:g} s at once: wall time",
            f"{wall['orch']['median_s']:.2f} s",
            f"{wall['bare_server']['median_s']:.2f} s (bare server)",
            f"{wall['ratio_to_turn']:.2f}x the turn",
            "≤ 1.3x the turn",
            bool(wall["passed"]),
        ),
        (
            "`get_session_status` p99 during those turns",
            _ms(status["under_load"]["p99_ms"]),
            f"{_ms(status['bare_under_load']['p99_ms'])} (bare server)",
            "",
            "≤ 20 ms",
            bool(status["passed"]),
        ),
    ]


def _scale(result: dict[str, Any]) -> list[Row]:
    restart = result["restart"]
    shape = f"{result['sessions']:,} sessions x {result['agents_per_session']}"
    return [
        _ratio_row(
            f"status with {shape} agents, {result['turns']:,} turns", result["status"], "≤ 1.1x"
        ),
        (
            "restart to first answer, same store",
            _ms(restart["orch"]["median_ms"]),
            f"{_ms(restart['baseline']['median_ms'])} (1-session store)",
            f"{restart['ratio']:.2f}x",
            "< 1000 ms",
            bool(restart["passed"]),
        ),
    ]


def _audit(result: dict[str, Any]) -> list[Row]:
    append, verify = result["append"], result["verify"]
    return [
        (
            "audit appends per second",
            f"{append['checkpoint_every_100']['median_per_s']:,.0f}/s with checkpoints",
            f"{append['no_checkpoints']['median_per_s']:,.0f}/s without",
            f"{append['checkpoint_slowdown']:.2f}x",
            "(reported)",
            None,
        ),
        (
            f"verify {verify['records']:,} audit records",
            f"{verify['cli_median_s']:.2f} s (`orch audit verify`)",
            f"{verify['verify_log_median_s']:.2f} s (checker only)",
            "",
            "(reported)",
            None,
        ),
    ]


SECTIONS: dict[str, Callable[[dict[str, Any]], list[Row]]] = {
    "vs_bare": _vs_bare,
    "parallel_turns": _parallel,
    "scale": _scale,
    "audit": _audit,
}


def table(results: dict[str, Any]) -> str:
    """The Markdown table of every target found in ``results``."""
    lines = [
        "| measure | orch | baseline | ratio | target | held |",
        "|---|---|---|---|---|---|",
    ]
    for key, rows in SECTIONS.items():
        if key in results:
            for name, orch, base, ratio, target, held in rows(results[key]):
                mark = "" if held is None else ("yes" if held else "**no**")
                lines.append(f"| {name} | {orch} | {base} | {ratio} | {target} | {mark} |")
    machines = {r["machine"] for r in results.values() if isinstance(r, dict) and "machine" in r}
    lines.append("")
    lines.append(f"Machine: {', '.join(sorted(machines))}.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results", type=Path, default=RESULTS)
    arguments = parser.parse_args(argv)
    try:
        results = json.loads(arguments.results.read_text())
    except FileNotFoundError:
        print(f"no results yet: run `make bench` ({arguments.results})", file=sys.stderr)
        return 1
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
