"""Logging for the server: JSON lines on stderr, never stdout.

Over stdio, stdout *is* the MCP protocol: one stray line there breaks the
client's parser. So every log record, from structlog or from a library using
stdlib ``logging`` (FastMCP, httpx, ...), goes through one stderr handler.
Claude Desktop saves a server's stderr to its own log file, so nothing is lost.
"""

from __future__ import annotations

import logging
import sys

import structlog


def configure_logging(level: str) -> None:
    """Route structlog and stdlib logging to stderr as JSON, at ``level`` and above.

    ``level`` is one of ``debug``, ``info``, ``warning``, ``error`` (validated
    by ``ServerSettings``). Calling it again replaces the previous setup.
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
            structlog.processors.dict_tracebacks,
            structlog.processors.JSONRenderer(),
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    handler.addFilter(_drop_expected_tool_failures)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.getLevelNamesMapping()[level.upper()])
    logging.captureWarnings(True)  # warnings.warn also reaches stderr as JSON


def _drop_expected_tool_failures(record: logging.LogRecord) -> bool:
    """FastMCP logs every failed call at ERROR with a traceback, including a user's
    ``NOT_FOUND``. orch's error edge already logs what matters (an ``INTERNAL``
    failure with its ref and traceback), so these records are dropped."""
    if not record.name.startswith("fastmcp."):
        return True
    message = record.getMessage()
    return not message.startswith(("Error calling tool", "Error reading resource"))
