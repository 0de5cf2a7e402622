"""What an audit record says about a call (pure): redacted arguments, changed ids.

Texts a user typed to an agent (a message, a role, a description) are private:
by default a record keeps only their length in UTF-8 bytes and SHA-256, enough
to prove later which text was sent without keeping it. Other arguments (ids,
names, paths, flags) are kept, each string cut at :data:`MAX_KEPT_CHARS`.
Floats become their ``repr`` string: audit JSON has no floats (see ``_audit``).

>>> redact_arguments({"agent_id": "ag_1", "message": "hi", "wait_seconds": 2.5}, keep_texts=False)
... # doctest: +NORMALIZE_WHITESPACE
{'agent_id': 'ag_1', 'message': {'bytes': 2,
 'sha256': '8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4'},
 'wait_seconds': '2.5'}
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Final

from ._events import (
    AgentCreated,
    AgentDeleted,
    ConversationArchived,
    ConversationCleared,
    Event,
    SessionCreated,
    SessionDeleted,
    TurnStarted,
)

TEXT_ARGUMENTS: Final = frozenset({"message", "initial_message", "role", "description"})
"""Arguments whose text is replaced by its length and digest unless ``keep_texts``."""

MAX_KEPT_CHARS: Final = 1024
MAX_ARGUMENTS: Final = 32
MAX_NAME_CHARS: Final = 64

Json = None | bool | int | str | list["Json"] | dict[str, "Json"]


def text_digest(value: object) -> Json:
    """A text's length in bytes and SHA-256; a non-text is described by its type only."""
    if not isinstance(value, str):
        return {"type": type(value).__name__}
    data = value.encode("utf-8", "surrogatepass")
    return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def plain(value: object) -> Json:
    """A scalar argument as audit JSON; containers are described, never copied."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        if len(value) <= MAX_KEPT_CHARS:
            return value
        return f"{value[:MAX_KEPT_CHARS]}…(+{len(value) - MAX_KEPT_CHARS} chars)"
    if isinstance(value, list | dict):
        return {"type": type(value).__name__, "items": len(value)}
    return {"type": type(value).__name__}


def redact_arguments(arguments: Mapping[str, object], *, keep_texts: bool) -> dict[str, Json]:
    """The arguments of a call as a record keeps them (at most :data:`MAX_ARGUMENTS`)."""
    kept: dict[str, Json] = {}
    for name in sorted(arguments)[:MAX_ARGUMENTS]:
        value = arguments[name]
        key = name[:MAX_NAME_CHARS]
        if name in TEXT_ARGUMENTS and not (keep_texts and isinstance(value, str)):
            kept[key] = text_digest(value)
        elif name in TEXT_ARGUMENTS:
            kept[key] = value  # type: ignore[assignment]  # a str, kept by policy
        else:
            kept[key] = plain(value)
    if len(arguments) > MAX_ARGUMENTS:
        kept["…"] = f"{len(arguments) - MAX_ARGUMENTS} more arguments left out"
    return kept


def changed_ids(events: Iterable[Event]) -> dict[str, list[str]]:
    """The ids a decision's events created and deleted, in event order."""
    created: list[str] = []
    deleted: list[str] = []
    for event in events:
        match event:
            case SessionCreated(session=session):
                created.append(session.id)
            case AgentCreated(agent=agent, conversation=conversation):
                created += [agent.id, conversation.id]
            case TurnStarted(turn=turn):
                created.append(turn.id)
            case (
                ConversationCleared(conversation=conversation)
                | ConversationArchived(conversation=conversation)
            ):
                created.append(conversation.id)
            case SessionDeleted(session_id=session_id):
                deleted.append(session_id)
            case AgentDeleted(agent_id=agent_id):
                deleted.append(agent_id)
            case _:
                pass
    return {"created": created, "deleted": deleted}
