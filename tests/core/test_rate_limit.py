"""The token bucket, stated as the contracts a client relies on.

* In any window of length ``t`` a bucket admits at most ``burst + rate * t`` calls.
* It never refuses while a whole token is available, and a refusal's
  ``retry_after_ms`` is enough: a call that waits that long is admitted.
* Time going backwards mints no token.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st
from returns.result import Failure, Success

from orch_core import (
    READ_METRICS,
    READ_RESOURCE,
    ErrorCode,
    Limits,
    RateLimited,
    RateRule,
    TokenBucket,
    ToolClass,
    available,
    full_bucket,
    is_full,
    rate_rule,
    take,
    tool_class,
)
from tests.strategies import buckets, call_times, rate_rules

# Float sums of microsecond steps: a window's budget may be off by far less than this.
EPSILON = 1e-6


def admitted_times(rule: RateRule, times: list[float]) -> list[float]:
    """Run calls at ``times`` through one bucket (full at the first call); the
    clock's running maximum at each admitted call (the time that really passed)."""
    bucket = full_bucket(rule, times[0])
    admitted = []
    for now, latest in zip(times, itertools.accumulate(times, max), strict=True):
        taken = take(bucket, rule, ToolClass.READ, now)
        if isinstance(taken, Success):
            bucket = taken.unwrap()
            admitted.append(latest)
    return admitted


@given(rate_rules(), call_times())
def test_any_window_admits_at_most_burst_plus_rate_times_its_length(
    rule: RateRule, times: list[float]
) -> None:
    admitted = admitted_times(rule, times)
    for first, start in enumerate(admitted):
        for last in range(first, len(admitted)):
            calls = last - first + 1
            budget = rule.burst + rule.per_second * (admitted[last] - start)
            assert calls <= budget + EPSILON, (calls, budget, start, admitted[last])


@given(rate_rules(), call_times())
def test_time_going_backwards_mints_no_token(rule: RateRule, times: list[float]) -> None:
    """Over the whole run, admissions fit the time that really passed: the latest
    time seen minus the first, however often the clock stepped back."""
    admitted = admitted_times(rule, times)
    elapsed = max(times) - times[0]
    assert len(admitted) <= rule.burst + rule.per_second * elapsed + EPSILON


@given(st.data(), rate_rules(), st.floats(0, 200))
def test_a_step_back_refills_nothing(data: st.DataObject, rule: RateRule, back: float) -> None:
    bucket = data.draw(buckets(rule))
    earlier = bucket.updated_at - back
    assert available(bucket, rule, earlier) == min(rule.burst, bucket.tokens)
    taken = take(bucket, rule, ToolClass.WRITE, earlier)
    if isinstance(taken, Success):
        assert taken.unwrap() == TokenBucket(tokens=bucket.tokens - 1, updated_at=bucket.updated_at)


@given(st.data(), rate_rules(), st.floats(-50, 500))
def test_never_refuses_when_a_token_is_available(
    data: st.DataObject, rule: RateRule, offset: float
) -> None:
    bucket = data.draw(buckets(rule))
    now = bucket.updated_at + offset
    taken = take(bucket, rule, ToolClass.MESSAGE, now)
    assert isinstance(taken, Success) == (available(bucket, rule, now) >= 1)


@given(st.data(), rate_rules(), st.floats(0, 500))
def test_waiting_retry_after_ms_is_enough(
    data: st.DataObject, rule: RateRule, offset: float
) -> None:
    bucket = data.draw(buckets(rule))
    now = bucket.updated_at + offset
    taken = take(bucket, rule, ToolClass.MESSAGE, now)
    if isinstance(taken, Failure):
        refused = taken.failure()
        assert refused.retry_after_ms >= 1
        later = now + refused.retry_after_ms / 1000
        assert isinstance(take(bucket, rule, ToolClass.MESSAGE, later), Success)
        # ... and not much more than enough: within the slack and rounding.
        sooner = now + (refused.retry_after_ms - 3) / 1000
        if refused.retry_after_ms > 3:
            assert isinstance(take(bucket, rule, ToolClass.MESSAGE, sooner), Failure)


@given(st.integers(1, 50), call_times())
def test_a_rate_of_zero_is_unlimited(burst: int, times: list[float]) -> None:
    rule = RateRule(per_minute=0, burst=burst)
    assert admitted_times(rule, times * 3) == list(itertools.accumulate(times * 3, max))


def test_a_refusal_says_when_to_retry_in_text_and_data() -> None:
    rule = RateRule(per_minute=30, burst=10)
    bucket = full_bucket(rule, 0.0)
    for _ in range(10):
        bucket = take(bucket, rule, ToolClass.MESSAGE, 0.0).unwrap()
    refused = take(bucket, rule, ToolClass.MESSAGE, 0.5).failure()
    assert refused == RateLimited(tool_class=ToolClass.MESSAGE, rule=rule, retry_after_ms=1501)
    error = refused.as_error()
    assert error.code is ErrorCode.RATE_LIMITED
    assert str(error).startswith("RATE_LIMITED: too many message calls; retry after 1.501 s")
    assert "retry_after_ms=1501" in error.message
    assert "limits.message_per_minute" in error.message


def test_a_full_bucket_may_be_forgotten() -> None:
    rule = RateRule(per_minute=60, burst=3)
    bucket = take(full_bucket(rule, 0.0), rule, ToolClass.READ, 0.0).unwrap()
    assert not is_full(bucket, rule, 0.5)
    assert is_full(bucket, rule, 1.0)


@pytest.mark.parametrize(
    ("action", "with_message", "expected"),
    [
        ("get_session_status", False, ToolClass.READ),
        ("list_sessions", False, ToolClass.READ),
        (READ_RESOURCE, False, ToolClass.READ),
        (READ_METRICS, False, ToolClass.READ),
        ("create_session", False, ToolClass.WRITE),
        ("delete_session", False, ToolClass.WRITE),
        ("create_agent", False, ToolClass.WRITE),
        ("delete_agent", False, ToolClass.WRITE),
        ("clear_agent_conversation", False, ToolClass.WRITE),
        ("start_new_agent_conversation", False, ToolClass.WRITE),
        ("start_new_agent_conversation", True, ToolClass.MESSAGE),
        ("send_message_to_agent", False, ToolClass.MESSAGE),
        ("a_tool_added_later", False, ToolClass.WRITE),
    ],
)
def test_each_tool_has_its_class(action: str, with_message: bool, expected: ToolClass) -> None:
    assert tool_class(action, with_message=with_message) is expected


def test_each_class_reads_its_own_keys() -> None:
    limits = Limits(
        read_per_minute=1,
        read_burst=2,
        write_per_minute=3,
        write_burst=4,
        message_per_minute=5,
        message_burst=6,
    )
    assert rate_rule(limits, ToolClass.READ) == RateRule(per_minute=1, burst=2)
    assert rate_rule(limits, ToolClass.WRITE) == RateRule(per_minute=3, burst=4)
    assert rate_rule(limits, ToolClass.MESSAGE) == RateRule(per_minute=5, burst=6)


def test_the_documented_defaults() -> None:
    defaults = {kind: rate_rule(Limits(), kind) for kind in ToolClass}
    assert defaults == {
        ToolClass.READ: RateRule(per_minute=600, burst=100),
        ToolClass.WRITE: RateRule(per_minute=120, burst=30),
        ToolClass.MESSAGE: RateRule(per_minute=30, burst=10),
    }
