"""The audit chain: how a record is built and sealed, byte for byte (pure).

Theory of operation. Every MCP interaction becomes a record ``{"v", "seq",
"at", "kind", "prev", "body"}``, stored as its *canonical JSON*: keys sorted,
no spaces, ASCII only, and no floats at all (times are integer microseconds),
so the same record has exactly one text. A record's hash is SHA-256 over a
domain tag and that text; each record names the previous record's hash
(``prev``), so editing, removing or reordering any record breaks every link
after it. A *checkpoint* ``(seq, hash, at)`` signed with the audit key seals
the chain up to ``seq``: recomputing the hashes after a forged record then no
longer matches a signature the forger cannot make.

The shell signs and stores; :mod:`._audit_verify` checks. Neither the tag nor
the text format may change without a new version number ``v``.

>>> first = seal(GENESIS, AuditKind.SERVER_START, {"pid": 7}, at_us=1_000_000)
>>> first.text[:60]
'{"at":1000000,"body":{"pid":7},"kind":"server.start","prev":'
>>> first.hash == record_hash(first.text)
True
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Mapping
from typing import Any, Final

import icontract
from attrs import field, frozen
from attrs.validators import ge, instance_of, matches_re

VERSION: Final = 1
RECORD_TAG: Final = b"orch.audit.record.v1\x00"
CHECKPOINT_TAG: Final = b"orch.audit.checkpoint.v1\x00"
HASH_PATTERN: Final = r"[0-9a-f]{64}"
ZERO_HASH: Final = "0" * 64


class AuditKind(enum.StrEnum):
    """What a record is about."""

    SERVER_START = "server.start"
    SERVER_STOP = "server.stop"
    INITIALIZE = "mcp.initialize"
    TOOLS_LIST = "mcp.tools_list"
    DECISION = "tool.decision"
    """Before a tool runs: allowed, or refused with its code (written or the tool does not run)."""
    OUTCOME = "tool.outcome"
    """After a tool ran: its code, duration, ids created or deleted."""
    CANCELLED = "tool.cancelled"
    """A call cancelled after its outcome was recorded: a send waiting for its turn,
    cancelled by the client (the turn is then stopped) or by the server's shutdown."""
    RESOURCE_READ = "resource.read"
    AUTH_FAILURE = "auth.failure"
    """A credential refused before any MCP message was read (an HTTP 401)."""


def has_no_floats(value: object) -> bool:
    """True when ``value`` is JSON made of dicts, lists, str, int, bool and None only."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and has_no_floats(v) for k, v in value.items())
    if isinstance(value, list):
        return all(has_no_floats(item) for item in value)
    return value is None or isinstance(value, str | int | bool)


@icontract.require(has_no_floats, "audit JSON holds no floats")
def canonical_json(value: object) -> str:
    """The one text of ``value``: sorted keys, compact, ASCII (lone surrogates escaped).

    >>> canonical_json({"b": [1, "é"], "a": None})
    '{"a":null,"b":[1,"\\\\u00e9"]}'
    """
    return dumps_canonical(value)


def dumps_canonical(value: object) -> str:
    """:func:`canonical_json` without its precondition, for values known to hold no float."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def record_hash(text: str) -> str:
    """SHA-256 (hex) of a record's stored text under the record domain tag."""
    return hashlib.sha256(RECORD_TAG + text.encode("ascii")).hexdigest()


@frozen(kw_only=True)
class ChainHead:
    """Where the chain ends: the last record's seq and hash (``GENESIS`` when empty)."""

    seq: int = field(validator=[instance_of(int), ge(0)])
    hash: str = field(validator=matches_re(HASH_PATTERN))


GENESIS: Final = ChainHead(seq=0, hash=ZERO_HASH)


@frozen(kw_only=True)
class SealedRecord:
    """A record as stored: its seq, canonical text and hash."""

    seq: int = field(validator=[instance_of(int), ge(1)])
    text: str
    hash: str = field(validator=matches_re(HASH_PATTERN))

    @property
    def head(self) -> ChainHead:
        """The chain's head once this record is appended."""
        return ChainHead(seq=self.seq, hash=self.hash)


@icontract.require(lambda at_us: at_us >= 0)
@icontract.ensure(lambda head, result: result.seq == head.seq + 1)
def seal(head: ChainHead, kind: AuditKind, body: Mapping[str, Any], *, at_us: int) -> SealedRecord:
    """The record that follows ``head``: ``kind`` and ``body`` at ``at_us`` (Unix µs)."""
    seq = head.seq + 1
    text = canonical_json(
        {
            "v": VERSION,
            "seq": seq,
            "at": at_us,
            "kind": kind.value,
            "prev": head.hash,
            "body": dict(body),
        }
    )
    return SealedRecord(seq=seq, text=text, hash=record_hash(text))


@frozen(kw_only=True)
class Checkpoint:
    """A signed seal of the chain up to ``seq`` (whose record hash is ``hash``)."""

    seq: int = field(validator=[instance_of(int), ge(1)])
    hash: str = field(validator=matches_re(HASH_PATTERN))
    at_us: int = field(validator=[instance_of(int), ge(0)])
    key_id: str
    signature: str
    """URL-safe base64 (no padding) of the Ed25519 signature over :func:`signed_bytes`."""

    def signed_bytes(self) -> bytes:
        return checkpoint_message(self.seq, self.hash, self.at_us, self.key_id)

    def text(self) -> str:
        """The canonical JSON this checkpoint is stored as (database and file alike)."""
        return canonical_json(
            {
                "v": VERSION,
                "seq": self.seq,
                "hash": self.hash,
                "at": self.at_us,
                "key_id": self.key_id,
                "signature": self.signature,
            }
        )


def checkpoint_message(seq: int, hash_: str, at_us: int, key_id: str) -> bytes:
    """The bytes a checkpoint's signature covers (domain-tagged canonical JSON)."""
    text = canonical_json({"v": VERSION, "seq": seq, "hash": hash_, "at": at_us, "key_id": key_id})
    return CHECKPOINT_TAG + text.encode("ascii")


def micros(seconds: float) -> int:
    """Unix seconds as the integer microseconds records carry.

    >>> micros(1.5)
    1500000
    """
    return round(seconds * 1_000_000)
