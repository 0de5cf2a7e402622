"""What the audit log costs: appends per second, and how long verifying a long log takes.

Usage: ``python bench/bench_audit.py [--repetitions 5] [--appends 5000] [--records 100000]
[--verify-repetitions 3] [--results bench/results.json] [--smoke]``.

Appends: ``AuditLog.append`` of a ``tool.decision`` body like the one the audit
middleware writes for ``send_message_to_agent`` (request id, transport, client,
principal, redacted arguments), each in its own SQLite transaction with
``synchronous=FULL``, so the number is mostly the disk's fsync. Two variants:
sealed by a signed checkpoint every 100 records (the default: one more database
transaction and one fsynced line in the checkpoint file per 100), and never
sealed. Each repetition starts a fresh data folder for each variant and times
``--appends`` appends to each (1-2 s here), in blocks of 500 whose order
alternates, so the disk's drift on a shared machine hits both alike; the
median rate over the repetitions is reported.

Verify: a database of ``--records`` such records, built directly (``seal()`` and
one ``executemany``, with a checkpoint signed by the audit key every 100
records in the database and the checkpoint file), then timed three ways:
``orch audit verify`` as a subprocess (what a user runs; exit 0 expected), the
in-process ``verify_log`` over records already in memory (the pure check), and
reading the records page by page as the command does (the SQLite side).

``--smoke`` runs tiny sizes (a test runs it so this file cannot rot) and writes
results only when ``--results`` is given. Results merge into the results file
under ``audit``.

Measured 2026-11-25 on a shared 2-core Linux VM (ext4, Python 3.11.7, SQLite
3.40.1), ``make bench`` (5 x 5,000 appends a variant; 100,000 records of 610
bytes, 82 MB, 1,000 checkpoints). Ranges are over runs with no other test
suite running; while other jobs ran their suites (fsyncing too), appends fell
to 450-700/s and verifying took up to 8.4 s (subprocess) and 7.0 s (in memory):

================================  ==============  ==========
what                              rate or time    per item
================================  ==============  ==========
append, checkpoint every 100      3,400-3,600/s   280-290 us
append, no checkpoints            3,550-3,700/s   270-280 us
``orch audit verify``, 100k       3.9-5.3 s       39-53 us
``verify_log``, 100k in memory    3.3-4.4 s       33-44 us
reading 100k records' pages       0.26-0.32 s     3 us
================================  ==============  ==========

An append is mostly its commit's fsync. Checkpoints slow appends by 2-4%: a
checkpoint alone takes about 0.6 ms (a signature, one more commit and one
fsynced line in the checkpoint file), about 1.5 appends' worth per 100.
``verify_log`` is CPU: about two thirds of it is ``has_no_floats`` walking each
parsed record twice (in ``_json``, and again as ``canonical_json``'s icontract
precondition). ``orch audit verify`` adds about 0.35 s of start-up.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _common import ORCH, RESULTS, publish

from orch_core import (
    GENESIS,
    AuditKind,
    AuditSettings,
    ChainSummary,
    StoredRecord,
    redact_arguments,
    seal,
    verify_log,
)
from orch_shell._audit_keys import (
    AuditSigner,
    SignatureCheck,
    audit_key_files,
    ensure_audit_signer,
)
from orch_shell._audit_log import AuditLog, checkpoint_path, open_audit_log
from orch_shell._paths import OrchPaths, resolve_paths
from orch_shell._store import Store

KEY = "audit"
SEAL_EVERY = 100
BLOCK = 500
NEVER = 10**12
VARIANTS = {"checkpoint_every_100": SEAL_EVERY, "no_checkpoints": NEVER}
PAGE = 10_000
START_US = 1_764_000_000_000_000
MESSAGE = (
    "Please review the changes in src/orch_shell/_audit_log.py and tests/shell/"
    "test_audit_log.py: check that a failed write leaves no gap in the chain, that a "
    "checkpoint is written every hundred records and at shutdown, and that the "
    "checkpoint file is fsynced. Reply with a short list of problems, most serious first, "
    "each with the file and line, and say which ones you are sure of."
)


def decision_body(number: int) -> dict[str, Any]:
    """A ``tool.decision`` body as the audit middleware writes it for a message to an agent."""
    arguments = {"agent_id": f"ag_{number:016x}", "message": MESSAGE, "wait_seconds": 30.0}
    return {
        "request_id": f"req_{number:016x}",
        "transport": "stdio",
        "client": {"name": "claude-ai", "version": "0.1.0"},
        "tool": "send_message_to_agent",
        "principal": {
            "subject": "local-user",
            "client_id": "claude-desktop",
            "token_id": f"tok_{number % 7:032x}",
        },
        "arguments": redact_arguments(arguments, keep_texts=False),
        "decision": "allowed",
        "code": None,
        "reason": None,
    }


def open_home(root: Path, name: str, seal_every: int) -> tuple[Store, AuditLog]:
    home = root / name
    home.mkdir(parents=True)
    paths = resolve_paths({"ORCH_HOME": str(home)})
    store = Store.open(paths.database)
    settings = AuditSettings(checkpoint_every_records=seal_every)
    return store, open_audit_log(store, settings, paths, time.time)


def time_block(audit: AuditLog, bodies: list[dict[str, Any]]) -> float:
    """Seconds taken to append ``bodies``, one record each."""
    started = time.perf_counter()
    for body in bodies:
        audit.append(AuditKind.DECISION, body).unwrap()
    return time.perf_counter() - started


def one_repetition(root: Path, repetition: int, appends: int) -> dict[str, float]:
    """Seconds each variant took for ``appends`` appends, made in alternating blocks."""
    seconds = dict.fromkeys(VARIANTS, 0.0)
    with contextlib.ExitStack() as stack:
        logs = {}
        for name, seal_every in VARIANTS.items():
            store, logs[name] = open_home(root, f"append-{repetition}-{name}", seal_every)
            stack.enter_context(store)
        for start in range(0, appends, BLOCK):
            bodies = [decision_body(number) for number in range(start, min(start + BLOCK, appends))]
            order = (
                list(VARIANTS) if (start // BLOCK + repetition) % 2 == 0 else list(VARIANTS)[::-1]
            )
            for name in order:
                seconds[name] += time_block(logs[name], bodies)
        assert logs["checkpoint_every_100"].unsealed == appends % SEAL_EVERY
        assert logs["no_checkpoints"].unsealed == appends == logs["no_checkpoints"].records()
    return seconds


def measure_appends(root: Path, repetitions: int, appends: int) -> dict[str, Any]:
    seconds: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for repetition in range(repetitions):
        for name, taken in one_repetition(root, repetition, appends).items():
            seconds[name].append(taken)
    sides: dict[str, dict[str, Any]] = {}
    medians: dict[str, float] = {}
    for name, runs in seconds.items():
        rates = [appends / run for run in runs]
        median = medians[name] = statistics.median(rates)
        sides[name] = {
            "median_per_s": round(median, 1),
            "per_append_us": round(1_000_000 / median, 1),
            "runs_per_s": [round(rate, 1) for rate in rates],
        }
    slowdown = medians["no_checkpoints"] / medians["checkpoint_every_100"]
    return {
        "appends_per_repetition": appends,
        "repetitions": repetitions,
        **sides,
        "checkpoint_slowdown": round(slowdown, 4),
    }


def build_log(paths: OrchPaths, signer: AuditSigner, records: int) -> tuple[int, int]:
    """Write ``records`` decision records and their checkpoints; (record, checkpoint) counts."""
    Store.open(paths.database).close()  # create and migrate the schema
    rows: list[tuple[int, str, str]] = []
    sealed: list[tuple[int, str]] = []
    head = GENESIS
    for number in range(records):
        at_us = START_US + number * 1000
        record = seal(head, AuditKind.DECISION, decision_body(number), at_us=at_us)
        rows.append((record.seq, record.text, record.hash))
        head = record.head
        if head.seq % SEAL_EVERY == 0:
            sealed.append((head.seq, signer.sign(head, at_us=at_us).text()))
    db = sqlite3.connect(paths.database)
    try:
        with db:
            db.executemany("INSERT INTO audit_records (seq, record, hash) VALUES (?, ?, ?)", rows)
            db.executemany("INSERT INTO audit_checkpoints (seq, record) VALUES (?, ?)", sealed)
    finally:
        db.close()
    checkpoints = checkpoint_path(AuditSettings(), paths)
    checkpoints.write_text("".join(text + "\n" for _, text in sealed), encoding="ascii")
    return len(rows), len(sealed)


def pages(store: Store) -> Iterator[StoredRecord]:
    since = 0
    while page := store.audit_records_after(since, PAGE):
        yield from page
        since = page[-1].seq


def measure_verify(root: Path, records: int, repetitions: int) -> dict[str, Any]:
    home = root / "verify"
    home.mkdir()
    paths = resolve_paths({"ORCH_HOME": str(home)})
    signer, _ = ensure_audit_signer(paths).unwrap()
    public_key = audit_key_files(paths)[1]
    checkpoints = checkpoint_path(AuditSettings(), paths)
    started = time.perf_counter()
    written, sealed = build_log(paths, signer, records)
    build_s = time.perf_counter() - started
    command = [str(ORCH), "audit", "verify", "--db", str(paths.database)]
    command += ["--public-key", str(public_key), "--checkpoints", str(checkpoints)]
    environment = {**os.environ, "ORCH_HOME": str(home)}
    check = SignatureCheck.from_file(public_key).unwrap()
    with Store.open_read_only(paths.database) as store:
        signed = [("the database", text) for _, text in store.audit_checkpoints()]
    lines = checkpoints.read_text(encoding="ascii").splitlines()
    signed += [(f"{checkpoints} line {n}", line) for n, line in enumerate(lines, 1)]
    cli_runs, read_runs, verify_runs = [], [], []
    for _ in range(repetitions):
        started = time.perf_counter()
        run = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)
        cli_runs.append(time.perf_counter() - started)
        assert run.returncode == 0, run.stdout + run.stderr
        assert f"audit log OK: {written} records" in run.stdout, run.stdout
        with Store.open_read_only(paths.database) as store:
            started = time.perf_counter()
            rows = list(pages(store))
            read_runs.append(time.perf_counter() - started)
        started = time.perf_counter()
        summary = verify_log(rows, signed, check)
        verify_runs.append(time.perf_counter() - started)
        assert isinstance(summary, ChainSummary), summary
        assert summary.records == written and summary.checkpoints == sealed, summary
    return {
        "records": written,
        "checkpoints": sealed,
        "database_mb": round(paths.database.stat().st_size / 1e6, 1),
        "build_s": round(build_s, 2),
        "repetitions": repetitions,
        "cli_median_s": round(statistics.median(cli_runs), 3),
        "cli_runs_s": [round(run, 3) for run in cli_runs],
        "verify_log_median_s": round(statistics.median(verify_runs), 3),
        "read_pages_median_s": round(statistics.median(read_runs), 3),
    }


def run(
    root: Path, repetitions: int, appends: int, records: int, verify_reps: int
) -> dict[str, Any]:
    body_text = seal(GENESIS, AuditKind.DECISION, decision_body(1), at_us=START_US).text
    return {
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, {sys.platform}",
        "command": " ".join(["python bench/bench_audit.py", *sys.argv[1:]]),
        "record_bytes": len(body_text),
        "append": measure_appends(root, repetitions, appends),
        "verify": measure_verify(root, records, verify_reps),
    }


def print_table(summary: dict[str, Any]) -> None:
    append = summary["append"]
    print(
        f"appends: {append['repetitions']} x {append['appends_per_repetition']} "
        f"({summary['record_bytes']}-byte records)"
    )
    print(f"{'variant':<22}{'median/s':>10}{'us/append':>11}  runs/s")
    for name in VARIANTS:
        side = append[name]
        runs = ", ".join(f"{rate:.0f}" for rate in side["runs_per_s"])
        print(f"{name:<22}{side['median_per_s']:>10.0f}{side['per_append_us']:>11.0f}  {runs}")
    print(f"slowdown from checkpoints (rate without / with): {append['checkpoint_slowdown']:.3f}")
    verify = summary["verify"]
    print(
        f"verify: {verify['records']:,} records, {verify['checkpoints']:,} checkpoints, "
        f"{verify['database_mb']} MB (built in {verify['build_s']} s), "
        f"median of {verify['repetitions']}"
    )
    print(f"  orch audit verify (subprocess) {verify['cli_median_s']:>8.3f} s")
    print(f"  verify_log (in memory)         {verify['verify_log_median_s']:>8.3f} s")
    print(f"  reading the pages              {verify['read_pages_median_s']:>8.3f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", type=int, default=5, help="append runs per variant")
    parser.add_argument("--appends", type=int, default=5000, help="timed appends per run")
    parser.add_argument("--records", type=int, default=100_000, help="records to verify")
    parser.add_argument("--verify-repetitions", type=int, default=3)
    parser.add_argument("--results", type=Path, default=None, help=f"default {RESULTS}")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, to check it runs")
    arguments = parser.parse_args(argv)
    sizes = (arguments.repetitions, arguments.appends, arguments.records)
    verify_reps = arguments.verify_repetitions
    if arguments.smoke:
        sizes, verify_reps = (2, 200, 1_000), 1
    with tempfile.TemporaryDirectory(prefix="orch-bench-audit-") as root:
        summary = run(Path(root), *sizes, verify_reps)
    print_table(summary)
    publish(arguments.results, arguments.smoke, KEY, summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
