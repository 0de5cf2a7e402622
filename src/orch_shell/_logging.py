"""Logging for the server: JSON lines on stderr (or a file), never stdout.

Over stdio, stdout *is* the MCP protocol: one stray line there breaks the
client's parser. So every log record, from structlog or from a library using
stdlib ``logging`` (FastMCP, httpx, ...), goes through one handler: stderr by
default (Claude Desktop saves a server's stderr to its own log file), or the
file ``server.log_file`` names.

Each tool call and resource read runs in a :func:`request_scope`: every line
logged while it runs carries its ``request_id`` (structlog context variables),
and :func:`current_request_id` hands the same id to whoever records the call
(the audit log, issue 5). Tasks started during a call inherit it, so the log
lines of a turn carry the id of the send that started it.
"""

from __future__ import annotations

import logging
import os
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from logging.handlers import WatchedFileHandler
from pathlib import Path

import structlog
import structlog.tracebacks

_REQUEST_ID: ContextVar[str | None] = ContextVar("orch_request_id", default=None)


def new_request_id() -> str:
    """A fresh, unguessable request id: ``req_`` and 16 hex digits."""
    return f"req_{secrets.token_hex(8)}"


def current_request_id() -> str | None:
    """The id of the call being handled, or None outside a call."""
    return _REQUEST_ID.get()


@contextmanager
def request_scope() -> Iterator[str]:
    """Give the code inside a new request id, in its log lines and :func:`current_request_id`."""
    request_id = new_request_id()
    token = _REQUEST_ID.set(request_id)
    bound = structlog.contextvars.bind_contextvars(request_id=request_id)
    try:
        yield request_id
    finally:
        structlog.contextvars.reset_contextvars(**bound)
        _REQUEST_ID.reset(token)


def configure_logging(level: str, file: str = "") -> None:
    """Route structlog and stdlib logging to stderr (or ``file``) as JSON, at ``level``
    and above.

    ``level`` is one of ``debug``, ``info``, ``warning``, ``error`` (validated
    by ``ServerSettings``). ``file`` is appended to, created owner-only, and
    reopened if it is rotated away (``logrotate``). Calling it again replaces the
    previous setup.
    """
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,  # reconfiguring (tests, serve) must take effect
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            # Without locals: a frame's variables can hold a token or a message text.
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
            ),
            structlog.processors.JSONRenderer(),
        ],
    )
    handler = _file_handler(Path(file)) if file else logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    handler.addFilter(_drop_expected_tool_failures)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.getLevelNamesMapping()[level.upper()])
    # At debug level the MCP libraries log every request with its arguments
    # (message texts included), so they stay at info whatever orch's level.
    for library in ("fastmcp", "mcp", "mcp_types"):
        logging.getLogger(library).setLevel(max(root.level, logging.INFO))
    logging.captureWarnings(True)  # warnings.warn also reaches stderr as JSON


def _file_handler(path: Path) -> logging.Handler:
    # Created 0600 before the handler opens it: log lines name sessions and agents.
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
    return WatchedFileHandler(path, encoding="utf-8")


def _drop_expected_tool_failures(record: logging.LogRecord) -> bool:
    """FastMCP logs every failed call at ERROR with a traceback, including a user's
    ``NOT_FOUND``. orch's error edge already logs what matters (an ``INTERNAL``
    failure with its ref and traceback), so these records are dropped."""
    if not record.name.startswith("fastmcp."):
        return True
    message = record.getMessage()
    return not message.startswith(("Error calling tool", "Error reading resource"))
