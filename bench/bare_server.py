"""The baseline orch is measured against: a bare FastMCP server on stdio.

No authentication, audit, rate limits, metrics or logging of its own; two tools:

* ``get_session_status(session_id)`` returns, unchanged, a dict recorded from
  orch's answer for a real session and declares orch's output schema for it (read
  from the JSON file ``$BARE_STATUS``: ``{"status": {...}, "schema": {...}}``),
  so the wire carries the same bytes and the client validates against the same
  schema: what differs is only what orch does around the call;
* ``record(name)`` does one SQLite insert, committed, with orch's durability
  (``journal_mode=WAL``, ``synchronous=FULL``, its own file ``$BARE_DB``): the
  cost of one durable write and nothing else;
* ``run_turn(message)`` runs ``$BARE_CLAUDE`` (a command line, e.g. the fake
  ``claude``) with orch's flags and ``message`` on stdin, in ``$BARE_CWD``, and
  answers when it has exited: a turn with no bookkeeping at all.

Each tool exists only when its environment variable is set.

Run as ``FASTMCP_CHECK_FOR_UPDATES=off python bench/bare_server.py``.
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import sqlite3
import time
from pathlib import Path
from typing import Any

from fastmcp import FastMCP


def build(status_file: Path | None, database: Path | None) -> FastMCP:
    mcp = FastMCP("bare")
    loaded: dict[str, Any] = (
        json.loads(status_file.read_text(encoding="utf-8")) if status_file else {"status": {}}
    )
    status: dict[str, Any] = loaded["status"]

    @mcp.tool(output_schema=loaded.get("schema"))
    async def get_session_status(session_id: str) -> dict[str, Any]:
        """A session's status (a fixed answer)."""
        return status

    claude = os.environ.get("BARE_CLAUDE")
    if claude:
        argv = [*shlex.split(claude), "-p", "--output-format", "stream-json", "--verbose"]

        @mcp.tool
        async def run_turn(message: str) -> dict[str, Any]:
            """Run one turn of the CLI; its exit code and how much it printed."""
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                cwd=os.environ.get("BARE_CWD"),
                start_new_session=True,
            )
            out, _ = await process.communicate(message.encode())
            return {"exit_code": process.returncode, "bytes": len(out)}

    if database is None:
        return mcp
    db = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")
    db.execute("CREATE TABLE IF NOT EXISTS calls (seq INTEGER PRIMARY KEY, at REAL, name TEXT)")

    @mcp.tool
    async def record(name: str) -> dict[str, Any]:
        """One durable insert."""
        db.execute("BEGIN IMMEDIATE")
        cursor = db.execute("INSERT INTO calls (at, name) VALUES (?, ?)", (time.time(), name))
        db.execute("COMMIT")
        return {"seq": cursor.lastrowid, "name": name}

    return mcp


def main() -> None:
    status = os.environ.get("BARE_STATUS")
    database = os.environ.get("BARE_DB")
    server = build(Path(status) if status else None, Path(database) if database else None)
    server.run("stdio", show_banner=False)


if __name__ == "__main__":
    main()
