"""The audit tables' SQL (append and read; nothing here updates or deletes a row).

Functions take an open connection: :class:`._store.Store` calls them under its
lock, inside the same transaction as the state change a record describes.
"""

from __future__ import annotations

import sqlite3

from orch_core import GENESIS, ChainHead, SealedRecord, StoredRecord


def insert_record(db: sqlite3.Connection, record: SealedRecord) -> None:
    db.execute(
        "INSERT INTO audit_records (seq, record, hash) VALUES (?, ?, ?)",
        (record.seq, record.text, record.hash),
    )


def insert_checkpoint(db: sqlite3.Connection, seq: int, text: str) -> None:
    db.execute("INSERT INTO audit_checkpoints (seq, record) VALUES (?, ?)", (seq, text))


def head(db: sqlite3.Connection) -> ChainHead:
    """The last record's seq and hash (as stored: the verifier judges them)."""
    row = db.execute("SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1").fetchone()
    return GENESIS if row is None else ChainHead(seq=row[0], hash=row[1])


def last_checkpoint(db: sqlite3.Connection) -> tuple[int, str] | None:
    """The newest checkpoint's seq and stored text, if any."""
    row = db.execute(
        "SELECT seq, record FROM audit_checkpoints ORDER BY seq DESC LIMIT 1"
    ).fetchone()
    return None if row is None else (int(row[0]), str(row[1]))


def records_after(db: sqlite3.Connection, seq: int, limit: int) -> list[StoredRecord]:
    """Up to ``limit`` records with a seq above ``seq``, in order."""
    rows = db.execute(
        "SELECT seq, record, hash FROM audit_records WHERE seq > ? ORDER BY seq LIMIT ?",
        (seq, limit),
    )
    return [StoredRecord(seq=row[0], text=row[1], hash=row[2]) for row in rows]


def last_records(db: sqlite3.Connection, count: int) -> list[StoredRecord]:
    """The last ``count`` records, oldest first."""
    rows = db.execute(
        "SELECT seq, record, hash FROM audit_records ORDER BY seq DESC LIMIT ?", (count,)
    ).fetchall()
    return [StoredRecord(seq=row[0], text=row[1], hash=row[2]) for row in reversed(rows)]


def checkpoints(db: sqlite3.Connection) -> list[tuple[int, str]]:
    """Every stored checkpoint, ``(seq, text)``, in seq order."""
    rows = db.execute("SELECT seq, record FROM audit_checkpoints ORDER BY seq")
    return [(int(row[0]), str(row[1])) for row in rows]
