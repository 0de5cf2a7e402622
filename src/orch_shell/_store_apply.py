"""Each event as SQL: the store's mirror of ``orch_core.evolve``.

One function per event, each doing to the tables what ``evolve`` does to the
``State`` (read the two side by side). Lists that ``State`` keeps in tuples are
not stored; they are rebuilt on load from ``seq`` order (see
:mod:`._store_schema`), so appending to them is an ``INSERT`` and removing from
them a ``DELETE``. Deletes cascade: session -> agents -> conversations -> turns.

An event that names a row that is not there raises :class:`EventMismatchError`:
it was not decided on the state this database holds, and the caller's
transaction is rolled back.
"""

from __future__ import annotations

import sqlite3
from typing import Final

from orch_core import (
    AgentCreated,
    AgentDeleted,
    ConversationArchived,
    ConversationCleared,
    ConversationStatus,
    Event,
    SessionCreated,
    SessionDeleted,
    TurnEnded,
    TurnProcessRecorded,
    TurnStarted,
    TurnStatus,
)

from ._store_codec import (
    AGENT_COLUMNS,
    CONVERSATION_COLUMNS,
    SESSION_COLUMNS,
    TURN_COLUMNS,
    TURN_RESULT_COLUMNS,
    Row,
    agent_params,
    conversation_params,
    placeholders,
    process_params,
    session_params,
    turn_params,
    turn_result_params,
    usage_params,
)


class EventMismatchError(Exception):
    """An event refers to a row the database does not hold."""


def _insert(table: str, columns: str) -> str:
    # Table and column names are constants of this package, never input.
    return (
        f"INSERT INTO {table} (seq, {columns}) "  # noqa: S608
        f"VALUES ((SELECT coalesce(max(seq), 0) + 1 FROM {table}), {placeholders(columns)})"
    )


_INSERT_SESSION: Final = _insert("sessions", SESSION_COLUMNS)
_INSERT_AGENT: Final = _insert("agents", AGENT_COLUMNS)
_INSERT_CONVERSATION: Final = _insert("conversations", CONVERSATION_COLUMNS)
_INSERT_TURN: Final = _insert("turns", TURN_COLUMNS)
_END_TURN: Final = "UPDATE turns SET " + ", ".join(  # noqa: S608 - constant names only
    f"{column.strip()} = ?" for column in TURN_RESULT_COLUMNS.split(",")
)
_AGENT_TURN_ENDED: Final = """
    UPDATE agents SET running_turn_id = NULL, last_turn_id = ?,
        total_turns = total_turns + 1,
        total_cost_usd = total_cost_usd + ?,
        input_tokens = input_tokens + ?,
        output_tokens = output_tokens + ?,
        cache_read_input_tokens = cache_read_input_tokens + ?,
        cache_creation_input_tokens = cache_creation_input_tokens + ?
    WHERE id = ?
"""


def apply_event(db: sqlite3.Connection, event: Event) -> None:
    """Change the tables as ``orch_core.evolve`` changes the state (inside a transaction)."""
    match event:
        case SessionCreated(session=session):
            db.execute(_INSERT_SESSION, session_params(session))
        case SessionDeleted(session_id=session_id):
            _one(db, "DELETE FROM sessions WHERE id = ?", (session_id,), event)
        case AgentCreated(agent=agent, conversation=conversation):
            db.execute(_INSERT_AGENT, agent_params(agent))
            db.execute(_INSERT_CONVERSATION, conversation_params(conversation))
        case AgentDeleted(agent_id=agent_id):
            _one(db, "DELETE FROM agents WHERE id = ?", (agent_id,), event)
        case TurnStarted(turn=turn):
            db.execute(_INSERT_TURN, turn_params(turn))
            _one(
                db,
                "UPDATE agents SET running_turn_id = ? WHERE id = ?",
                (turn.id, turn.agent_id),
                event,
            )
        case TurnProcessRecorded(turn_id=turn_id, process=process):
            _one(
                db,
                "UPDATE turns SET pid = ?, pgid = ?, process_start_time = ? WHERE id = ?",
                (*process_params(process), turn_id),
                event,
            )
        case TurnEnded():
            _end_turn(db, event)
        case ConversationCleared(agent_id=agent_id, conversation=conversation):
            old = _active_conversation(db, agent_id, event)
            # last_turn_id must not point into the transcript being discarded.
            _one(
                db,
                "UPDATE agents SET conversation_id = ?, last_turn_id = CASE WHEN last_turn_id IN "
                "(SELECT id FROM turns WHERE conversation_id = ?) THEN NULL ELSE last_turn_id END "
                "WHERE id = ?",
                (conversation.id, old, agent_id),
                event,
            )
            _one(db, "DELETE FROM conversations WHERE id = ?", (old,), event)
            db.execute(_INSERT_CONVERSATION, conversation_params(conversation))
        case ConversationArchived(agent_id=agent_id, archived_at=archived_at):
            old = _active_conversation(db, agent_id, event)
            _one(
                db,
                "UPDATE conversations SET status = ?, archived_at = ? WHERE id = ?",
                (ConversationStatus.ARCHIVED.value, archived_at, old),
                event,
            )
            _one(
                db,
                "UPDATE agents SET conversation_id = ? WHERE id = ?",
                (event.conversation.id, agent_id),
                event,
            )
            db.execute(_INSERT_CONVERSATION, conversation_params(event.conversation))
        case _:
            raise TypeError(f"not an event: {type(event).__name__}")


def _end_turn(db: sqlite3.Connection, event: TurnEnded) -> None:
    found = db.execute(
        "SELECT agent_id, conversation_id FROM turns WHERE id = ?", (event.turn_id,)
    ).fetchone()
    if found is None:
        raise EventMismatchError(f"{type(event).__name__}: no turn {event.turn_id}")
    agent_id, conversation_id = found
    outcome = event.outcome
    params = turn_result_params(outcome, event.finished_at)
    db.execute(f"{_END_TURN} WHERE id = ?", (*params, event.turn_id))
    # REAL and INTEGER additions here are the same IEEE double / int additions
    # evolve makes in Python, so the totals match bit for bit (token counts stay
    # far below 2**63, where SQLite would turn an integer sum into a REAL).
    _one(
        db,
        _AGENT_TURN_ENDED,
        (event.turn_id, outcome.cost_usd, *usage_params(outcome.usage), agent_id),
        event,
    )
    if outcome.status is TurnStatus.COMPLETED and outcome.claude_session_id is not None:
        _one(
            db,
            "UPDATE conversations SET claude_session_id = ? WHERE id = ?",
            (outcome.claude_session_id, conversation_id),
            event,
        )


def _active_conversation(db: sqlite3.Connection, agent_id: str, event: Event) -> str:
    found = db.execute("SELECT conversation_id FROM agents WHERE id = ?", (agent_id,)).fetchone()
    if found is None:
        raise EventMismatchError(f"{type(event).__name__}: no agent {agent_id}")
    return str(found[0])


def _one(db: sqlite3.Connection, sql: str, params: Row, event: Event) -> None:
    """Run ``sql``, which must change exactly one row."""
    changed = db.execute(sql, params).rowcount
    if changed != 1:
        raise EventMismatchError(
            f"{type(event).__name__}: expected to change one row, changed {changed}"
        )
