"""``orch audit``: verify the audit log, show its tail, export it as JSON lines.

``verify`` reads the database read-only (a running server is fine) and the
checkpoint file, and exits 0 with a summary, or 1 naming the first bad seq and
why. Exit 2 means it could not look at all (no database, unreadable key).
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from returns.result import Failure

from orch_core import ChainBreak, StoredRecord, verify_log

from ._audit_keys import SignatureCheck, audit_key_files
from ._audit_log import checkpoint_path
from ._config_file import load_settings
from ._paths import OrchPaths
from ._store import Store, StoreError

EXIT_OK, EXIT_BROKEN, EXIT_USAGE = 0, 1, 2
PAGE = 10_000


def add_audit_commands(commands: Any) -> None:
    """Add ``audit verify``, ``audit show`` and ``audit export`` to ``orch``'s parser."""
    audit = commands.add_parser("audit", help="verify, show or export the audit log")
    actions = audit.add_subparsers(title="audit commands", metavar="ACTION", required=True)
    verify = actions.add_parser("verify", help="check the hash chain and signed checkpoints")
    verify.add_argument("--db", type=Path, help="the database (default: this install's)")
    verify.add_argument("--public-key", type=Path, help="the audit public key (PEM)")
    verify.add_argument("--checkpoints", type=Path, help="the checkpoint file")
    verify.set_defaults(command=_verify)
    show = actions.add_parser("show", help="print the last records, one per line")
    show.add_argument("--tail", type=int, default=20, help="how many (default 20)")
    show.add_argument("--db", type=Path, help="the database (default: this install's)")
    show.set_defaults(command=_show)
    export = actions.add_parser("export", help="print records as JSON lines")
    export.add_argument("--since", type=int, default=0, help="only records after this seq")
    export.add_argument("--db", type=Path, help="the database (default: this install's)")
    export.set_defaults(command=_export)


def _open(path: Path) -> Store | None:
    try:
        return Store.open_read_only(path)
    except StoreError as error:
        print(f"orch: {error}", file=sys.stderr)
        return None


def _pages(store: Store, since: int = 0) -> Iterator[StoredRecord]:
    """Every record after ``since``, read a page at a time (bounded memory)."""
    while page := store.audit_records_after(since, PAGE):
        yield from page
        since = page[-1].seq


def _checkpoint_lines(path: Path) -> list[tuple[str, str]] | None:
    try:
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
    except FileNotFoundError:
        return None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [(f"{path} line {number}", line) for number, line in enumerate(lines, 1)]


def _verify(paths: OrchPaths, environ: Mapping[str, str], arguments: argparse.Namespace) -> int:
    public_key = arguments.public_key or audit_key_files(paths)[1]
    checkpoints_file = arguments.checkpoints
    if checkpoints_file is None:
        loaded = load_settings(paths, environ)
        if isinstance(loaded, Failure):
            print(f"orch: config error: {loaded.failure().describe()}", file=sys.stderr)
            return EXIT_USAGE
        checkpoints_file = checkpoint_path(loaded.unwrap().audit, paths)
    check = SignatureCheck.from_file(public_key)
    if isinstance(check, Failure):
        print(f"orch: {check.failure()}", file=sys.stderr)
        return EXIT_USAGE
    store = _open(arguments.db or paths.database)
    if store is None:
        return EXIT_USAGE
    with store:
        stored = [("the database", text) for _, text in store.audit_checkpoints()]
        copied = _checkpoint_lines(checkpoints_file)
        if copied is None and stored:
            return _broken(
                ChainBreak(
                    seq=0,
                    reason=f"the checkpoint file {checkpoints_file} is missing, but the "
                    f"database has {len(stored)} checkpoints",
                )
            )
        result = verify_log(_pages(store), [*stored, *(copied or [])], check.unwrap())
    if isinstance(result, ChainBreak):
        return _broken(result)
    print(
        f"audit log OK: {result.records} records; sealed up to seq {result.last_sealed_seq} "
        f"by {result.checkpoints} checkpoint{'s' * (result.checkpoints != 1)}; "
        f"{result.unsealed} unsealed at the tail"
    )
    return EXIT_OK


def _broken(problem: ChainBreak) -> int:
    print(f"audit log BROKEN at seq {problem.seq}: {problem.reason}")
    return EXIT_BROKEN


def _show(paths: OrchPaths, _environ: Mapping[str, str], arguments: argparse.Namespace) -> int:
    def line(row: StoredRecord) -> str:
        record = json.loads(row.text)
        when = datetime.datetime.fromtimestamp(record["at"] / 1e6, tz=datetime.UTC)
        body = json.dumps(record["body"], sort_keys=True, ensure_ascii=False)
        return f"{row.seq:>8}  {when:%Y-%m-%d %H:%M:%S.%f}Z  {record['kind']:<15} {body}"

    return _print_rows(
        arguments.db or paths.database, lambda store: store.audit_tail(max(0, arguments.tail)), line
    )


def _export(paths: OrchPaths, _environ: Mapping[str, str], arguments: argparse.Namespace) -> int:
    return _print_rows(
        arguments.db or paths.database,
        lambda store: _pages(store, max(0, arguments.since)),
        lambda row: json.dumps({"hash": row.hash, "record": json.loads(row.text)}, sort_keys=True),
    )


def _print_rows(
    database: Path,
    rows: Callable[[Store], Iterable[StoredRecord]],
    line: Callable[[StoredRecord], str],
) -> int:
    store = _open(database)
    if store is None:
        return EXIT_USAGE
    with store:
        for row in rows(store):
            print(line(row))
    return EXIT_OK
