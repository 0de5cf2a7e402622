"""The database schema, as a list of forward migrations.

``PRAGMA user_version`` holds how many steps of :data:`MIGRATIONS` a database
has had: step 0 takes an empty file to version 1. Opening an older database runs
the missing steps in one transaction; a newer one is refused, because this code
cannot know what a later orch meant by columns it has never heard of. Steps are
never edited once released - a change is a new step appended to the list.

Ordering: a session lists its agents, an agent its archived conversations, a
conversation its turns, in the order they were added. Every row therefore gets
``seq``, one more than the table's largest, and loads order by it. ``seq`` is
the ``INTEGER PRIMARY KEY`` (the rowid, which ``VACUUM`` keeps when it is
declared) and ``id`` a ``UNIQUE`` key: loading in ``seq`` order is then a plain
table scan, not an index walk with a table lookup per row.
Archived conversations need no column of their own: an agent only ever archives
its active conversation, which is always its newest, so archive order is ``seq``
order.

Pointers from an agent to its active conversation and to its running and last
turns carry no foreign key: they point "down" into rows that cascade from the
agent itself, and :mod:`._store_apply` maintains them exactly as
``orch_core.evolve`` does.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Final

_V1: Final = (
    """
    CREATE TABLE sessions (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        owner TEXT NOT NULL,
        name TEXT NOT NULL,
        root_path TEXT NOT NULL,
        description TEXT NOT NULL,
        created_at REAL NOT NULL,
        UNIQUE (owner, name)
    )
    """,
    """
    CREATE TABLE agents (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        role TEXT NOT NULL,
        model TEXT,
        permission_mode TEXT,
        created_at REAL NOT NULL,
        conversation_id TEXT NOT NULL,
        running_turn_id TEXT,
        last_turn_id TEXT,
        total_turns INTEGER NOT NULL DEFAULT 0,
        total_cost_usd REAL NOT NULL DEFAULT 0.0,
        input_tokens INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0,
        cache_read_input_tokens INTEGER NOT NULL DEFAULT 0,
        cache_creation_input_tokens INTEGER NOT NULL DEFAULT 0,
        UNIQUE (session_id, name)
    )
    """,
    """
    CREATE TABLE conversations (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        agent_id TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
        status TEXT NOT NULL CHECK (status IN ('active', 'archived')),
        created_at REAL NOT NULL,
        archived_at REAL,
        claude_session_id TEXT
    )
    """,
    "CREATE INDEX conversations_by_agent ON conversations (agent_id)",
    """
    CREATE TABLE turns (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        agent_id TEXT NOT NULL,
        conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
        number INTEGER NOT NULL CHECK (number >= 1),
        message TEXT NOT NULL,
        status TEXT NOT NULL CHECK (
            status IN ('running', 'completed', 'failed', 'timeout', 'cancelled', 'interrupted')
        ),
        started_at REAL NOT NULL,
        finished_at REAL,
        reply TEXT,
        error_code TEXT,
        error TEXT,
        cost_usd REAL NOT NULL,
        duration_ms INTEGER,
        num_turns INTEGER NOT NULL,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cache_read_input_tokens INTEGER NOT NULL,
        cache_creation_input_tokens INTEGER NOT NULL,
        permission_denials TEXT NOT NULL,
        pid INTEGER,
        pgid INTEGER,
        process_start_time REAL,
        CHECK ((pid IS NULL) = (pgid IS NULL) AND (pid IS NULL) = (process_start_time IS NULL))
    )
    """,
    # Recovery looks for running turns at every start.
    "CREATE INDEX turns_by_status ON turns (status)",
    # Cascading deletes and transcripts walk a conversation's turns.
    "CREATE INDEX turns_by_conversation ON turns (conversation_id, number)",
)

# The audit log (see ``orch_core._audit``): each record exactly as hashed, and
# the signed checkpoints. Rows are only ever appended; nothing in orch updates
# or deletes them (``orch audit verify`` would say so).
_V2: Final = (
    """
    CREATE TABLE audit_records (
        seq INTEGER PRIMARY KEY,
        record TEXT NOT NULL,
        hash TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE audit_checkpoints (
        seq INTEGER PRIMARY KEY,
        record TEXT NOT NULL
    )
    """,
)

MIGRATIONS: Final[Sequence[Sequence[str]]] = (_V1, _V2)
"""Step ``i`` takes a database from version ``i`` to ``i + 1``."""

LATEST: Final = len(MIGRATIONS)


class SchemaTooNewError(Exception):
    """The database was written by a newer orch; nothing was changed."""

    def __init__(self, found: int) -> None:
        super().__init__(
            f"database schema version {found} is newer than this orch ({LATEST}); upgrade orch"
        )
        self.found = found


def migrate(connection: sqlite3.Connection) -> int:
    """Bring the database to :data:`LATEST` in one transaction; the version found.

    The version is read inside ``BEGIN IMMEDIATE``, so two servers starting at
    once cannot both run the same step.
    """
    connection.execute("BEGIN IMMEDIATE")
    try:
        found = _version(connection)
        for step in MIGRATIONS[found:]:
            for statement in step:
                connection.execute(statement)
        if found < LATEST:
            # user_version lives in the file header, which the transaction covers.
            connection.execute(f"PRAGMA user_version = {LATEST:d}")
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    return found


def _version(connection: sqlite3.Connection) -> int:
    found = int(connection.execute("PRAGMA user_version").fetchone()[0])
    if found > LATEST:
        raise SchemaTooNewError(found)
    return found
