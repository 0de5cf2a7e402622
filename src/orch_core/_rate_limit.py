"""Token buckets: how often one principal may call one class of tools.

Each principal has one bucket per :class:`ToolClass`. A bucket holds at most
``burst`` tokens and refills continuously at ``per_minute / 60`` tokens a
second; a call takes one token, and a call that finds less than one is refused
with the time until one is there (``retry_after_ms``). So in any window of
length ``t`` seconds a bucket admits at most ``burst + rate * t`` calls, and it
never refuses while a token is available.

Time is passed in, never read. Time that goes backwards (a clock stepped back)
refills nothing: the bucket keeps the latest time it saw. A bucket no one holds
is a full one, so the shell may forget full buckets (:func:`is_full`) and the
memory they take stays bounded by the callers active within a refill period.
The state is memory-only: a restart forgets it, which gives every caller a
fresh burst (documented; the concurrency caps, which protect the machine, come
from the stored running turns instead).

>>> rule = RateRule(per_minute=60, burst=2)
>>> bucket = full_bucket(rule, now=0.0)
>>> bucket = take(bucket, rule, ToolClass.READ, now=0.0).unwrap()
>>> bucket = take(bucket, rule, ToolClass.READ, now=0.0).unwrap()
>>> take(bucket, rule, ToolClass.READ, now=0.25).failure().retry_after_ms
751
>>> take(bucket, rule, ToolClass.READ, now=1.0).unwrap().tokens
0.0
"""

from __future__ import annotations

import enum
import math
from typing import Final

import icontract
from attrs import field, frozen
from attrs.validators import ge, instance_of
from returns.result import Failure, Result, Success

from ._errors import ErrorCode, OrchError
from ._limits import Limits
from ._scopes import READ_METRICS, READ_RESOURCE, SEND_MESSAGE, START_NEW_CONVERSATION


class ToolClass(enum.StrEnum):
    """What a call costs the server, which decides the bucket it draws from."""

    READ = "read"
    WRITE = "write"
    MESSAGE = "message"


READ_ACTIONS: Final = frozenset(
    {"get_session_status", "list_sessions", READ_RESOURCE, READ_METRICS}
)
"""Reads: the two status tools and every resource read (transcripts, metrics, health)."""

SLACK_MS: Final = 1
"""Added to every ``retry_after_ms``: a client that waits exactly that long must find
its token there, whatever the rounding of the clock's floats."""


def tool_class(action: str, *, with_message: bool = False) -> ToolClass:
    """The class of ``action`` (a tool name, or ``read_resource``/``read_metrics``).

    A tool not listed as a read or a message is limited as a write, so a tool
    added later is limited before anyone classifies it.

    >>> tool_class("list_sessions"), tool_class("start_new_agent_conversation", with_message=True)
    (<ToolClass.READ: 'read'>, <ToolClass.MESSAGE: 'message'>)
    >>> tool_class("start_new_agent_conversation"), tool_class("no_such_tool")
    (<ToolClass.WRITE: 'write'>, <ToolClass.WRITE: 'write'>)
    """
    if action in READ_ACTIONS:
        return ToolClass.READ
    if action == SEND_MESSAGE or (action == START_NEW_CONVERSATION and with_message):
        return ToolClass.MESSAGE
    return ToolClass.WRITE


@frozen(kw_only=True)
class RateRule:
    """``per_minute`` calls on average (``0``: unlimited), up to ``burst`` at once."""

    per_minute: int = field(validator=[instance_of(int), ge(0)])
    burst: int = field(validator=[instance_of(int), ge(1)])

    @property
    def unlimited(self) -> bool:
        return self.per_minute == 0

    @property
    def per_second(self) -> float:
        return self.per_minute / 60


def rate_rule(limits: Limits, tool_class: ToolClass) -> RateRule:
    """The configured rule of ``tool_class`` (``limits.<class>_per_minute`` and ``_burst``)."""
    match tool_class:
        case ToolClass.READ:
            return RateRule(per_minute=limits.read_per_minute, burst=limits.read_burst)
        case ToolClass.WRITE:
            return RateRule(per_minute=limits.write_per_minute, burst=limits.write_burst)
        case ToolClass.MESSAGE:
            return RateRule(per_minute=limits.message_per_minute, burst=limits.message_burst)


@frozen(kw_only=True)
class TokenBucket:
    """``tokens`` left at time ``updated_at`` (the latest time the bucket saw)."""

    tokens: float
    updated_at: float


def full_bucket(rule: RateRule, now: float) -> TokenBucket:
    """The bucket of a principal not seen lately: ``burst`` tokens."""
    return TokenBucket(tokens=float(rule.burst), updated_at=now)


def available(bucket: TokenBucket, rule: RateRule, now: float) -> float:
    """Tokens in ``bucket`` at ``now``; never more than ``burst``, never refilled backwards."""
    elapsed = max(0.0, now - bucket.updated_at)
    return min(float(rule.burst), bucket.tokens + elapsed * rule.per_second)


def is_full(bucket: TokenBucket, rule: RateRule, now: float) -> bool:
    """Whether forgetting ``bucket`` changes nothing (a missing bucket is a full one)."""
    return available(bucket, rule, now) >= rule.burst


@frozen(kw_only=True)
class RateLimited:
    """A refused call: its class, its rule, and how long until a token is there."""

    tool_class: ToolClass
    rule: RateRule
    retry_after_ms: int = field(validator=[instance_of(int), ge(1)])

    def as_error(self) -> OrchError:
        """The ``RATE_LIMITED`` error a client sees; it says when to retry.

        >>> rule = RateRule(per_minute=30, burst=10)
        >>> refused = RateLimited(tool_class=ToolClass.MESSAGE, rule=rule, retry_after_ms=1500)
        >>> print(refused.as_error())  # doctest: +NORMALIZE_WHITESPACE
        RATE_LIMITED: too many message calls; retry after 1.5 s (retry_after_ms=1500).
        The limit is 30 a minute with bursts of 10 (limits.message_per_minute,
        limits.message_burst)
        """
        kind = self.tool_class.value
        return OrchError(
            code=ErrorCode.RATE_LIMITED,
            message=f"too many {kind} calls; retry after {self.retry_after_ms / 1000:g} s "
            f"(retry_after_ms={self.retry_after_ms}). The limit is {self.rule.per_minute} a "
            f"minute with bursts of {self.rule.burst} (limits.{kind}_per_minute, "
            f"limits.{kind}_burst)",
        )


@icontract.ensure(
    lambda bucket, rule, now, result: (
        not isinstance(result, Failure) or available(bucket, rule, now) < 1
    ),
    "a call is refused only when no whole token is available",
)
def take(
    bucket: TokenBucket, rule: RateRule, tool_class: ToolClass, now: float
) -> Result[TokenBucket, RateLimited]:
    """Take one token from ``bucket`` at ``now``: the new bucket, or why not and for how long."""
    if rule.unlimited:
        return Success(bucket)
    tokens = available(bucket, rule, now)
    if tokens >= 1:
        return Success(TokenBucket(tokens=tokens - 1, updated_at=max(bucket.updated_at, now)))
    wait_ms = math.ceil((1 - tokens) / rule.per_second * 1000) + SLACK_MS
    return Failure(RateLimited(tool_class=tool_class, rule=rule, retry_after_ms=wait_ms))
