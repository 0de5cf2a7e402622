"""The pieces of telemetry on their own: request ids, labels, the audit hooks, the
server-running test of ``orch status``."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
import structlog
from fastmcp.exceptions import NotFoundError, ResourceError, ToolError
from prometheus_client.parser import text_string_to_metric_families

from orch_core import HealthStatus
from orch_shell._audit_hooks import AUDIT_SEAL_OVERDUE_SECONDS, audit_check
from orch_shell._logging import current_request_id, request_scope
from orch_shell._metrics import Metrics
from orch_shell._status_cli import duration, running_server
from orch_shell._telemetry_edge import code_of, resource_kind


async def test_a_request_scope_names_every_log_line_and_task_inside_it() -> None:
    assert current_request_id() is None
    with request_scope() as request_id:
        assert request_id.startswith("req_") and len(request_id) == 20
        assert current_request_id() == request_id
        assert structlog.contextvars.get_contextvars()["request_id"] == request_id

        async def in_a_task() -> str | None:
            await asyncio.sleep(0)
            return current_request_id()

        assert await asyncio.create_task(in_a_task()) == request_id
        with request_scope() as inner:
            assert current_request_id() == inner != request_id
        assert current_request_id() == request_id
    assert current_request_id() is None
    assert "request_id" not in structlog.contextvars.get_contextvars()


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ToolError("NOT_FOUND: no session 'x'"), "NOT_FOUND"),
        (ResourceError("PERMISSION_DENIED: needs a scope"), "PERMISSION_DENIED"),
        (ToolError("Something: not one of ours"), "INTERNAL"),
        (NotFoundError("Unknown tool: 'x'"), "NOT_FOUND"),
        (asyncio.CancelledError(), "CANCELLED"),
        (RuntimeError("boom"), "INTERNAL"),
    ],
)
def test_the_code_label_is_what_the_client_saw(error: BaseException, code: str) -> None:
    assert code_of(error) == code


@pytest.mark.parametrize(
    ("uri", "kind"),
    [
        ("orch://agents/agt_0123456789abcdef/transcript", "agent_transcript"),
        ("orch://conversations/cnv_0123456789abcdef/transcript", "conversation_transcript"),
        ("orch://metrics", "metrics"),
        ("orch://health", "health"),
        ("orch://agents/evil/../../etc", "other"),
        ("file:///etc/passwd", "other"),
    ],
)
def test_resource_labels_name_the_template_never_the_ids(uri: str, kind: str) -> None:
    assert resource_kind(uri) == kind


class FakeAudit:
    """An audit log as issue 5 will offer it to metrics and health."""

    def __init__(
        self, records: int, sealed_at: float | None, unsealed_since: float | None = None
    ) -> None:
        self._records = records
        self._sealed_at = sealed_at
        self._unsealed_since = unsealed_since

    def unsealed_since(self) -> float | None:
        return self._unsealed_since

    def records(self) -> int:
        return self._records

    def last_checkpoint_at(self) -> float | None:
        return self._sealed_at


def test_the_audit_families_appear_once_an_audit_log_is_attached() -> None:
    metrics = Metrics()
    assert b"orch_audit" not in metrics.render()
    metrics.watch_audit(FakeAudit(records=7, sealed_at=1000.0), clock=lambda: 1090.0)
    found = {
        sample.name: sample.value
        for family in text_string_to_metric_families(metrics.render().decode())
        for sample in family.samples
    }
    assert found["orch_audit_records_total"] == 7
    assert found["orch_audit_checkpoint_age_seconds"] == 90


def test_the_audit_check_is_degraded_when_records_wait_too_long_for_a_seal() -> None:
    assert audit_check(None, 0.0).status is HealthStatus.NOT_CONFIGURED
    assert audit_check(FakeAudit(1, sealed_at=100.0), 160.0).status is HealthStatus.OK
    assert audit_check(FakeAudit(0, sealed_at=None), 0.0).status is HealthStatus.OK
    fresh = FakeAudit(5, sealed_at=100.0, unsealed_since=150.0)
    assert audit_check(fresh, 150.0 + AUDIT_SEAL_OVERDUE_SECONDS).status is HealthStatus.OK
    overdue = audit_check(fresh, 151.0 + AUDIT_SEAL_OVERDUE_SECONDS)
    assert overdue.status is HealthStatus.DEGRADED
    assert "sealing is failing" in overdue.detail


def test_a_lock_left_by_a_dead_server_or_a_reused_pid_is_not_a_running_server(
    tmp_path: Path,
) -> None:
    lock = tmp_path / "orch.lock"
    assert running_server(tmp_path) is None  # no lock file
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    lock.write_text(dead.stdout)
    assert running_server(tmp_path) is None
    lock.write_text(f"{os.getpid()}\n")  # alive, but not an orch server
    assert running_server(tmp_path) is None
    lock.write_text("garbage")
    assert running_server(tmp_path) is None


def test_durations_read_like_a_person_would_say_them() -> None:
    assert [duration(s) for s in (0, 42.9, 300, 7500, 4 * 86400 + 3600)] == [
        "0 s", "42 s", "5 min", "2 h 5 min", "4 d 1 h",
    ]  # fmt: skip
