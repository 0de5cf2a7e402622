"""The durable copy of orch's state: one SQLite file.

The shell keeps the whole :class:`~orch_core.State` in memory and records every
decision's events here *before* evolving memory, so memory never holds what the
file does not. ``apply`` writes a decision's events in one transaction: after a
crash the file holds some prefix of the decisions, never part of one.
``load`` rebuilds a state equal (``==``) to the one the applied events produced.

Durability settings, and why:

* ``journal_mode=WAL`` - readers (``orch doctor``, a second look) do not block
  the writer, and a commit is one append to the log;
* ``synchronous=FULL`` - a commit is on disk when ``apply`` returns (WAL with
  ``NORMAL`` may lose the last commits on power loss, and a lost ``TurnStarted``
  would orphan a running ``claude`` process); ``apply(..., flush=False)`` is the
  exception, for records a power cut makes moot or the next flush covers;
* ``foreign_keys=ON`` - deletes cascade from a session down to its turns;
* ``busy_timeout`` - a second process holding the write lock briefly waits
  instead of failing;
* ``isolation_level=None`` - the sqlite3 module starts no transactions of its
  own; every write is an explicit ``BEGIN IMMEDIATE`` ... ``COMMIT``.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sqlite3
import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Concatenate, Final, ParamSpec, Self, TypeVar

from orch_core import (
    AgentId,
    ChainHead,
    ConversationId,
    ConversationStatus,
    Event,
    SealedRecord,
    State,
    StoredRecord,
    TurnId,
)

from . import _audit_store as audit_sql
from ._store_apply import apply_event
from ._store_codec import (
    AGENT_COLUMNS,
    CONVERSATION_COLUMNS,
    SESSION_COLUMNS,
    TURN_COLUMNS,
    agent_from_row,
    conversation_from_row,
    session_from_row,
    turn_from_row,
)
from ._store_schema import LATEST, SchemaTooNewError, migrate

BUSY_TIMEOUT_MS: Final = 5_000
_ARCHIVED: Final = ConversationStatus.ARCHIVED.value

P = ParamSpec("P")
T = TypeVar("T")


class StoreError(Exception):
    """The store could not do what was asked; the message is safe to show.

    The cause (an ``sqlite3`` error, usually) is chained for the server log.
    """


class Store:
    """orch's state in one SQLite file. Safe to share between threads (calls are serialised)."""

    def __init__(self, connection: sqlite3.Connection, path: Path | None = None) -> None:
        """Use :meth:`open`; this wraps a connection that is already configured."""
        self._db: sqlite3.Connection | None = connection
        self._lock = threading.Lock()
        self.path = path
        """The database file (health checks look at its disk)."""

    @classmethod
    def open(cls, path: Path) -> Store:
        """Open (creating it, owner-only, if missing) and migrate the database at ``path``.

        The directory must exist. Raises :class:`StoreError` when the file cannot
        be opened, is not a database, cannot use WAL, or was written by a newer orch.
        """
        try:
            _create_private(path)
            db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as error:
            raise StoreError(f"cannot open the database {path}: {error}") from error
        try:
            _configure(db, path)
            migrate(db)
        except SchemaTooNewError as error:
            db.close()
            raise StoreError(str(error)) from error
        except sqlite3.Error as error:
            db.close()
            raise StoreError(f"cannot use the database {path}: {error}") from error
        except StoreError:
            db.close()
            raise
        return cls(db, path)

    @classmethod
    def open_read_only(cls, path: Path) -> Store:
        """Open an existing database for reading only (``orch status``; a live
        server's WAL database is fine): no migration, and every write fails.

        Raises :class:`StoreError` when the file is missing or unreadable, or its
        schema is not this orch's (run ``orch serve`` once to migrate it).
        """
        try:
            db = sqlite3.connect(
                f"{path.absolute().as_uri()}?mode=ro",
                uri=True,
                isolation_level=None,
                check_same_thread=False,
            )
            db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS:d}")
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
        except sqlite3.Error as error:
            raise StoreError(f"cannot read the database {path}: {error}") from error
        if version != LATEST:
            db.close()
            raise StoreError(
                f"the database {path} has schema version {version}, this orch reads {LATEST}; "
                "start `orch serve` once to migrate it, or upgrade orch"
            )
        return cls(db, path)

    def close(self) -> None:
        """Close the file; later calls raise :class:`StoreError`. Closing twice is fine."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def apply(
        self, events: Sequence[Event], audit: SealedRecord | None = None, *, flush: bool = True
    ) -> None:
        """Record ``events`` and the ``audit`` record describing them in one
        transaction: all of them, or (raising) none.

        ``flush=False`` skips the disk flush of this commit: it still survives
        the process being killed (it is in the write-ahead log), but a power cut
        can lose it until the next flushed commit. Only for what a power cut
        makes moot or what the next flush covers: a turn's process id (the
        process dies with the machine), and audit records of reads (the next
        state change or checkpoint, every few seconds, flushes them; a
        checkpoint is flushed, so it never names a record that could be lost).
        """
        if not events and audit is None:
            return
        with self._lock:
            db = self._open_db()
            if flush:
                self._transaction(db, events, audit)
                return
            db.execute("PRAGMA synchronous = NORMAL")
            try:
                self._transaction(db, events, audit)
            finally:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("PRAGMA synchronous = FULL")

    def _transaction(
        self, db: sqlite3.Connection, events: Sequence[Event], audit: SealedRecord | None
    ) -> None:
        """Write ``events`` and ``audit`` in one transaction (the lock is held)."""
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as error:
            raise StoreError("the database is busy or unwritable") from error
        try:
            for event in events:
                apply_event(db, event)
            if audit is not None:
                audit_sql.insert_record(db, audit)
            db.execute("COMMIT")
        except BaseException as error:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            if not isinstance(error, Exception):
                raise  # KeyboardInterrupt and friends stay what they are
            what = [type(e).__name__ for e in events] + ["an audit record"] * (audit is not None)
            raise StoreError(
                f"could not record {', '.join(what)}; nothing was recorded ({type(error).__name__})"
            ) from error

    def add_checkpoint(self, seq: int, text: str) -> None:
        """Store a signed audit checkpoint (its own transaction)."""
        with self._lock:
            db = self._open_db()
            try:
                db.execute("BEGIN IMMEDIATE")
                audit_sql.insert_checkpoint(db, seq, text)
                db.execute("COMMIT")
            except sqlite3.Error as error:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                raise StoreError(f"could not store the audit checkpoint at seq {seq}") from error

    def audit_head(self) -> ChainHead:
        """The last audit record's seq and hash (``GENESIS`` when there is none)."""
        return self._read(audit_sql.head)

    def audit_last_checkpoint(self) -> tuple[int, str] | None:
        """The newest audit checkpoint: its seq and stored text."""
        return self._read(audit_sql.last_checkpoint)

    def audit_records_after(self, seq: int, limit: int) -> list[StoredRecord]:
        """Up to ``limit`` audit records after ``seq``, in order (to page through the log)."""
        return self._read(audit_sql.records_after, seq, limit)

    def audit_tail(self, count: int) -> list[StoredRecord]:
        """The last ``count`` audit records, oldest first."""
        return self._read(audit_sql.last_records, count)

    def audit_checkpoints(self) -> list[tuple[int, str]]:
        """Every audit checkpoint stored in the database: ``(seq, text)``."""
        return self._read(audit_sql.checkpoints)

    def _read(
        self,
        query: Callable[Concatenate[sqlite3.Connection, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        with self._lock:
            try:
                return query(self._open_db(), *args, **kwargs)
            except sqlite3.Error as error:
                raise StoreError(f"could not read the audit log: {error}") from error

    def probe_write(self) -> None:
        """Check that a commit reaches the file, with one that changes nothing.

        A transaction rolled back before it commits never touches the file, so it
        passes on a full disk or an immutable file that every real commit fails
        on. This one rewrites ``user_version`` with its own value: one page
        appended to the log, no content changed. Raises :class:`StoreError` when
        the database is closed, read-only, locked past the busy timeout, or
        otherwise unwritable.
        """
        with self._lock:
            db = self._open_db()
            try:
                db.execute("BEGIN IMMEDIATE")
                try:
                    version = int(db.execute("PRAGMA user_version").fetchone()[0])
                    db.execute(f"PRAGMA user_version = {version:d}")
                    db.execute("COMMIT")
                except BaseException:
                    with contextlib.suppress(sqlite3.Error):
                        db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as error:
                raise StoreError(f"the database cannot be written: {error}") from error

    def load(self) -> State:
        """The whole state, read in one snapshot.

        The cyclic garbage collector is paused meanwhile: building 100,000 turns
        triggers it thousands of times for nothing (they are all kept), which cost
        about a third of a large store's load time (``bench/bench_scale.py``).
        """
        collecting = gc.isenabled()
        gc.disable()
        try:
            return self._load_snapshot()
        finally:
            if collecting:
                gc.enable()

    def _load_snapshot(self) -> State:
        with self._lock:
            db = self._open_db()
            try:
                db.execute("BEGIN")
                try:
                    return _load(db)
                finally:
                    db.execute("COMMIT")
            except sqlite3.Error as error:
                raise StoreError("could not read the database") from error
            except (KeyError, TypeError, ValueError) as error:
                # A row no domain value accepts: written by hand, or by a buggy orch.
                raise StoreError("the database holds a row this orch cannot read") from error

    def _open_db(self) -> sqlite3.Connection:
        if self._db is None:
            raise StoreError("the store is closed")
        return self._db


def _create_private(path: Path) -> None:
    """Create ``path`` as an empty, owner-only file unless it exists.

    SQLite gives its ``-wal`` and ``-shm`` files the database file's permissions,
    so the whole state stays private to the user running orch.
    """
    descriptor = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    os.close(descriptor)


def _configure(db: sqlite3.Connection, path: Path) -> None:
    # Order matters: busy_timeout first so the rest can wait for a lock;
    # journal_mode and foreign_keys cannot change inside a transaction.
    db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS:d}")
    mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise StoreError(
            f"the database {path} cannot use write-ahead logging (journal mode stays {mode}); "
            "put it on a local disk"
        )
    db.execute("PRAGMA synchronous = FULL")
    db.execute("PRAGMA foreign_keys = ON")


def _load(db: sqlite3.Connection) -> State:
    # Children first: each parent is built once, with its ordered child ids.
    turns = {}
    turn_ids: defaultdict[str, list[TurnId]] = defaultdict(list)
    for row in db.execute(f"SELECT {TURN_COLUMNS} FROM turns ORDER BY seq"):  # noqa: S608
        turn = turn_from_row(row)
        turns[turn.id] = turn
        turn_ids[turn.conversation_id].append(turn.id)

    conversations = {}
    archived: defaultdict[str, list[ConversationId]] = defaultdict(list)
    query = f"SELECT {CONVERSATION_COLUMNS} FROM conversations ORDER BY seq"  # noqa: S608
    for row in db.execute(query):
        conversation = conversation_from_row(row, turn_ids.get(row[0], ()))
        conversations[conversation.id] = conversation
        if row[2] == _ARCHIVED:
            archived[conversation.agent_id].append(conversation.id)

    agents = {}
    agent_ids: defaultdict[str, list[AgentId]] = defaultdict(list)
    for row in db.execute(f"SELECT {AGENT_COLUMNS} FROM agents ORDER BY seq"):  # noqa: S608
        agent = agent_from_row(row, archived.get(row[0], ()))
        agents[agent.id] = agent
        agent_ids[agent.session_id].append(agent.id)

    query = f"SELECT {SESSION_COLUMNS} FROM sessions ORDER BY seq"  # noqa: S608
    sessions = {
        row[0]: session_from_row(row, agent_ids.get(row[0], ())) for row in db.execute(query)
    }
    return State(sessions=sessions, agents=agents, conversations=conversations, turns=turns)
