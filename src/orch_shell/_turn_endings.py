"""How a finished ``claude`` process becomes a recorded turn ending."""

from __future__ import annotations

from orch_core import EndTurn, ErrorCode, TurnId, TurnOutcome, TurnReport, TurnStatus

_OUTCOMES = {
    "completed": (TurnStatus.COMPLETED, None),
    "failed": (TurnStatus.FAILED, ErrorCode.TURN_FAILED.value),
    "timeout": (TurnStatus.TIMEOUT, ErrorCode.TURN_TIMEOUT.value),
    "cancelled": (TurnStatus.CANCELLED, None),
}


def _clean(text: str | None) -> str | None:
    """Text safe to store: JSON may carry lone surrogates (``"\\ud800"``), which UTF-8
    cannot encode; each becomes ``?`` instead of failing the write."""
    if text is None:
        return None
    return text.encode("utf-8", "replace").decode("utf-8")


def end_turn_command(turn_id: TurnId, report: TurnReport, *, now: float) -> EndTurn:
    """How the runtime's report of a finished process becomes a recorded turn ending."""
    status, error_code = _OUTCOMES[report.outcome]
    outcome = TurnOutcome(
        status=status,
        reply=_clean(report.reply or None),
        error_code=error_code,
        error=_clean(report.error),
        cost_usd=max(0.0, report.cost_usd),
        duration_ms=report.duration_ms,
        num_turns=report.num_turns,
        usage=report.usage,
        permission_denials=tuple(
            _clean(f"{d.tool_name}: {d.detail}" if d.detail else d.tool_name) or ""
            for d in report.permission_denials
        ),
        claude_session_id=_clean(report.claude_session_id),
        models=report.models,
    )
    return EndTurn(turn_id=turn_id, now=now, outcome=outcome)
