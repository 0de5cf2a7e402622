"""The audit log's writer: appends records to the chain and seals it with checkpoints.

Records are built by the core (:func:`orch_core.seal`) and stored in the
database, either on their own (:meth:`AuditLog.append`) or inside the
transaction of the state change they describe (:meth:`AuditLog.appending`, used
by the orchestrator). The chain's head advances only after the write committed,
so a failed write leaves no gap: the next record takes the same seq.

A checkpoint signs ``(seq, hash, time)`` of the head with the audit key and goes
into the database *and* onto a file outside it (one JSON line, fsynced): a
database restored from an older copy then lacks records that the file's
checkpoints name. Checkpoints are written every ``checkpoint_every_records``
records, every ``checkpoint_every_seconds`` while records arrive
(:meth:`AuditLog.run_sealer`), and at shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import structlog
from returns.result import Failure, Result, Success

from orch_core import AuditKind, AuditSettings, ErrorCode, OrchError, SealedRecord, micros, seal

from ._audit_keys import AuditSigner, ensure_audit_signer
from ._paths import OrchPaths
from ._store import Store, StoreError

log = structlog.get_logger("orch.audit")

UNAUDITED = (
    "orch could not write the audit record, so the call was not run and nothing was "
    "changed; check the data folder's free space and permissions (`orch doctor`)"
)


CHECKPOINT_FILE_NAME = "audit-checkpoints.jsonl"


def checkpoint_path(settings: AuditSettings, paths: OrchPaths) -> Path:
    """Where checkpoints are copied: ``[audit] checkpoint_file``, else beside the database."""
    return (
        Path(settings.checkpoint_file)
        if settings.checkpoint_file
        else (paths.home / CHECKPOINT_FILE_NAME)
    )


def open_audit_log(
    store: Store, settings: AuditSettings, paths: OrchPaths, clock: Callable[[], float]
) -> AuditLog:
    """The audit log of ``store``, creating the audit key if it is missing.

    Raises :class:`StoreError` when the key cannot be made or read, or the
    audit tables cannot be read.
    """
    signer = ensure_audit_signer(paths)
    if isinstance(signer, Failure):
        raise StoreError(f"cannot use the audit key: {signer.failure()}")
    key, created = signer.unwrap()
    if created and store.audit_head().seq:
        log.warning(
            "a new audit key was created for an existing audit log: older checkpoints "
            "verify only with the old public key"
        )
    return AuditLog(
        store=store,
        signer=key,
        settings=settings,
        checkpoint_file=checkpoint_path(settings, paths),
        clock=clock,
    )


class AuditLog:
    """Appends to one database's audit chain; safe to call from any thread."""

    def __init__(
        self,
        *,
        store: Store,
        signer: AuditSigner,
        settings: AuditSettings,
        checkpoint_file: Path,
        clock: Callable[[], float],
    ) -> None:
        self._store = store
        self._signer = signer
        self._settings = settings
        self.checkpoint_file = checkpoint_file
        self._clock = clock
        self._lock = threading.RLock()
        self._head = store.audit_head()
        last = store.audit_last_checkpoint()
        self._sealed_seq = 0 if last is None else last[0]
        self._sealed_at = None if last is None else json.loads(last[1])["at"] / 1_000_000
        self._unsealed_since = clock() if self._head.seq > self._sealed_seq else None

    def records(self) -> int:
        """Records in the chain (its last seq)."""
        return self._head.seq

    def last_checkpoint_at(self) -> float | None:
        """When the chain was last sealed (Unix seconds), or None if never."""
        return self._sealed_at

    def unsealed_since(self) -> float | None:
        """When the oldest unsealed record was written (None: all are sealed)."""
        return self._unsealed_since

    @property
    def unsealed(self) -> int:
        """Records written since the last checkpoint."""
        return self._head.seq - self._sealed_seq

    @contextlib.contextmanager
    def appending(self, kind: AuditKind, body: Mapping[str, Any]) -> Iterator[SealedRecord]:
        """The next record, for the caller to store in its own transaction.

        The chain advances when the ``with`` block ends normally; if it raises
        (the transaction failed), the record was never written and is forgotten.
        """
        with self._lock:
            record = seal(self._head, kind, body, at_us=micros(self._clock()))
            yield record
            self._head = record.head
            if self._unsealed_since is None:
                self._unsealed_since = self._clock()
        if self.unsealed >= self._settings.checkpoint_every_records:
            self.checkpoint()

    def append(self, kind: AuditKind, body: Mapping[str, Any]) -> Result[SealedRecord, OrchError]:
        """Write one record on its own; ``UNAVAILABLE`` if the database refuses it."""
        try:
            with self.appending(kind, body) as record:
                # No disk flush: see Store.apply (state changes and checkpoints flush).
                self._store.apply((), audit=record, flush=False)
        except StoreError as error:
            log.exception("audit record not written", kind=kind.value, error=str(error))
            return Failure(
                OrchError(code=ErrorCode.UNAVAILABLE, message=UNAUDITED, detail=repr(error))
            )
        return Success(record)

    def checkpoint(self) -> bool:
        """Seal the chain up to its head, if anything is unsealed; False if that failed."""
        with self._lock:
            head = self._head
            if head.seq == self._sealed_seq:
                return True
            now = self._clock()
            checkpoint = self._signer.sign(head, at_us=micros(now))
            text = checkpoint.text()
            try:
                self._store.add_checkpoint(head.seq, text)
            except StoreError as error:
                log.exception("audit checkpoint not stored", seq=head.seq, error=str(error))
                return False
            self._sealed_seq, self._sealed_at = head.seq, now
            self._unsealed_since = None
            try:
                _append_line(self.checkpoint_file, text)
            except OSError as error:
                # The database has it; the file copy is what catches a rollback.
                log.exception(
                    "audit checkpoint not copied to the checkpoint file",
                    seq=head.seq,
                    file=str(self.checkpoint_file),
                    error=error.strerror,
                )
                return False
        return True

    async def run_sealer(self) -> None:
        """Seal every ``checkpoint_every_seconds`` while new records arrive (until cancelled)."""
        while True:
            await asyncio.sleep(self._settings.checkpoint_every_seconds)
            if self.unsealed:
                self.checkpoint()

    def close(self, body: Mapping[str, Any]) -> None:
        """Record the server's stop and seal the chain (before the store closes)."""
        self.append(AuditKind.SERVER_STOP, body)
        self.checkpoint()


def _append_line(path: Path, text: str) -> None:
    """Append one line to ``path`` (created 0600) and wait until it is on disk."""
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        size = os.fstat(descriptor).st_size
        data = (text + "\n").encode("ascii")
        try:
            while data:
                data = data[os.write(descriptor, data) :]
            os.fsync(descriptor)
        except OSError:
            # A full disk can take half a line: remove it, or the file would
            # hold a line no verifier accepts.
            with contextlib.suppress(OSError):
                os.ftruncate(descriptor, size)
            raise
    finally:
        os.close(descriptor)
