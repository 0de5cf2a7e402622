"""The ``[limits]`` table of ``orch.toml``: what one client may make the server hold or do.

Three kinds of limit, so that one client (or one runaway orchestrating model)
cannot starve the others, exhaust memory or processes, or wedge the server:

* **rates** (``*_per_minute`` and ``*_burst``): a token bucket per principal and
  tool class (:mod:`._rate_limit`); ``0`` per minute means unlimited;
* **concurrency**: turns running at once, in total and per principal, counted
  from the running turns of the state (so they survive a restart with it);
* **sizes**: texts, sessions, agents, and the transport's largest message.

The key names are an interface: operators and scripts rely on them.

>>> Limits().message_per_minute, Limits().message_burst
(30, 10)
"""

from __future__ import annotations

from attrs import field, frozen

from . import _settings_checks as checks
from ._settings_checks import DOC

_UNLIMITED = " 0 means unlimited (for trusted single-user benchmarks)."


@frozen(kw_only=True)
class Limits:
    """Caps on what one client can make the server hold or do, so no client exhausts it."""

    read_per_minute: int = field(
        default=600,
        validator=checks.non_negative,
        metadata={
            DOC: "Read calls (get_session_status, list_sessions, resource reads) one client"
            " (token subject) may make per minute, on average." + _UNLIMITED + " Rates are"
            " counted in memory only: a restart resets them."
        },
    )
    read_burst: int = field(
        default=100,
        validator=checks.positive,
        metadata={DOC: "Read calls one client may make at once, before the rate applies."},
    )
    write_per_minute: int = field(
        default=120,
        validator=checks.non_negative,
        metadata={
            DOC: "Write calls (create/delete sessions and agents, clear or start a"
            " conversation without a message) one client may make per minute." + _UNLIMITED
        },
    )
    write_burst: int = field(
        default=30,
        validator=checks.positive,
        metadata={DOC: "Write calls one client may make at once, before the rate applies."},
    )
    message_per_minute: int = field(
        default=30,
        validator=checks.non_negative,
        metadata={
            DOC: "Messages (send_message_to_agent, start_new_agent_conversation with a"
            " message) one client may send per minute." + _UNLIMITED
        },
    )
    message_burst: int = field(
        default=10,
        validator=checks.positive,
        metadata={DOC: "Messages one client may send at once, before the rate applies."},
    )
    max_running_turns: int = field(
        default=8,
        validator=checks.positive,
        metadata={DOC: "Agent turns (claude processes) running at once on this server."},
    )
    max_running_turns_per_principal: int = field(
        default=4,
        validator=checks.positive,
        metadata={DOC: "Agent turns running at once in one client's sessions."},
    )
    max_sessions_per_principal: int = field(
        default=32, validator=checks.positive, metadata={DOC: "Open sessions one client may hold."}
    )
    max_agents_per_session: int = field(
        default=16,
        validator=checks.positive,
        metadata={DOC: "Agents (Claude Code processes) per session."},
    )
    max_agents_total: int = field(
        default=1_024,
        validator=checks.positive,
        metadata={DOC: "Agents on this server, all clients together."},
    )
    max_message_bytes: int = field(
        default=102_400,
        validator=checks.positive,
        metadata={DOC: "Largest message to an agent, in UTF-8 bytes."},
    )
    max_role_bytes: int = field(
        default=8_192,
        validator=checks.positive,
        metadata={DOC: "Largest agent role prompt, in UTF-8 bytes."},
    )
    max_name_chars: int = field(
        default=64,
        validator=checks.positive,
        metadata={DOC: "Longest session name, in characters."},
    )
    max_description_bytes: int = field(
        default=4_096,
        validator=checks.positive,
        metadata={DOC: "Largest session description, in UTF-8 bytes."},
    )
    max_stdio_line_bytes: int = field(
        default=4 * 1024 * 1024,
        validator=checks.positive,
        metadata={
            DOC: "Largest JSON-RPC message, in bytes: a line on stdio (a longer one gets a"
            " JSON-RPC error), or a request body over HTTP (a larger one gets 413)."
        },
    )
