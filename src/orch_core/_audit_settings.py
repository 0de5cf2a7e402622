"""The ``[audit]`` table of ``orch.toml``: what the audit log keeps and how often it is sealed."""

from __future__ import annotations

from attrs import field, frozen

from . import _settings_checks as checks
from ._settings_checks import DOC


@frozen(kw_only=True)
class AuditSettings:
    """The audit log: what it keeps of message texts, and how often it is sealed."""

    keep_texts: bool = field(
        default=False,
        metadata={
            DOC: "Keep message, role and description texts in the audit log; by default"
            " only their length in bytes and SHA-256 are kept."
        },
    )
    checkpoint_every_records: int = field(
        default=100,
        validator=checks.positive,
        metadata={DOC: "Seal the audit chain with a signed checkpoint after this many records."},
    )
    checkpoint_every_seconds: float = field(
        default=10.0,
        validator=checks.positive,
        metadata={DOC: "Also seal it this often (seconds) while new records arrive."},
    )
    checkpoint_file: str = field(
        default="",
        validator=checks.absolute_or_empty,
        metadata={
            DOC: "Absolute path of the file that gets a copy of every checkpoint, outside the"
            " database (put it on another disk for more safety); empty means"
            " audit-checkpoints.jsonl in the data directory."
        },
    )
