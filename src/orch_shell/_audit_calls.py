"""One audited tool call: what its decision and outcome records say.

:class:`._audit_edge.AuditTrail` opens an :class:`AuditedCall` for each tool
call and keeps it in a context variable, so the layers the call passes through
can add to it without knowing one another: the security context names the
principal (or why it was refused), the gate records the decision, and the
orchestrator writes the outcome inside the transaction of the change.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import attrs

from orch_core import Principal

if TYPE_CHECKING:
    from ._audit_log import AuditLog

Body = dict[str, Any]


@attrs.define(kw_only=True)
class AuditedCall:
    """The audit facts of one tool call, filled in as it passes each layer."""

    audit: AuditLog
    tool: str
    base: Body
    """Request id, transport and client: the same in every record of the call."""
    arguments: Body
    """Already redacted (see ``orch_core.redact_arguments``)."""
    started: float = attrs.field(factory=time.perf_counter)
    principal: Body | None = None
    auth_reason: str | None = None
    decided: bool = False
    """True once a decision record was written (or could not be: then nothing runs)."""
    outcome_written: bool = False

    @property
    def wants_outcome(self) -> bool:
        """The tool was allowed to run and its outcome is not recorded yet."""
        return self.decided and not self.outcome_written

    def decision(self, code: str | None) -> Body:
        """The decision record: ``allowed`` (no code), or ``refused`` with the code."""
        return {
            **self.base,
            "tool": self.tool,
            "principal": self.principal,
            "arguments": self.arguments,
            "decision": "allowed" if code is None else "refused",
            "code": code,
            "reason": self.auth_reason,
        }

    def read(self, uri: str, code: str) -> Body:
        """The record of a resource read: who read what, and the code they got."""
        return {
            **self.base,
            "uri": uri[:1024],
            "principal": self.principal,
            "code": code,
            "reason": self.auth_reason,
            "duration_us": self._elapsed_us(),
        }

    def _elapsed_us(self) -> int:
        return round((time.perf_counter() - self.started) * 1_000_000)

    def outcome(self, code: str, changed: dict[str, list[str]] | None = None) -> Body:
        """The outcome record: the code the client saw, time taken, ids changed."""
        changed = changed or {"created": [], "deleted": []}
        subject = None if self.principal is None else self.principal["subject"]
        return {
            "request_id": self.base["request_id"],
            "tool": self.tool,
            "principal": subject,
            "code": code,
            "duration_us": self._elapsed_us(),
            **changed,
        }


_CALL: ContextVar[AuditedCall | None] = ContextVar("orch_audited_call", default=None)


def current_call() -> AuditedCall | None:
    """The audited tool call being handled, if any (also inside tasks it started)."""
    return _CALL.get()


def principal_fields(principal: Principal) -> Body:
    """Who called, as records name them (never the token itself)."""
    return {
        "subject": principal.subject,
        "client_id": principal.client_id,
        "token_id": principal.token_id,
    }


def note_principal(principal: Principal) -> None:
    """The security context authenticated ``principal`` for the current call."""
    call = _CALL.get()
    if call is not None:
        call.principal = principal_fields(principal)


def note_auth_failure(reason: str) -> None:
    """The security context refused the current call's credential for ``reason``."""
    call = _CALL.get()
    if call is not None:
        call.auth_reason = reason
