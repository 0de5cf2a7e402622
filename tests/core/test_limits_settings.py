"""The ``[limits]`` keys: their names are an interface, and each bad value names its key."""

from __future__ import annotations

from typing import Any

import pytest
from attrs import fields

from orch_core import Limits, settings_from_mapping

ISSUE_KEYS = (
    "read_per_minute",
    "read_burst",
    "write_per_minute",
    "write_burst",
    "message_per_minute",
    "message_burst",
    "max_running_turns",
    "max_running_turns_per_principal",
    "max_sessions_per_principal",
    "max_agents_per_session",
    "max_message_bytes",
    "max_stdio_line_bytes",
)
"""The names operators and scripts rely on (issue 6), exactly."""


def test_every_promised_key_exists_with_its_documented_default() -> None:
    names = {attribute.name for attribute in fields(Limits)}
    assert set(ISSUE_KEYS) <= names
    defaults = Limits()
    assert {key: getattr(defaults, key) for key in ISSUE_KEYS} == {
        "read_per_minute": 600,
        "read_burst": 100,
        "write_per_minute": 120,
        "write_burst": 30,
        "message_per_minute": 30,
        "message_burst": 10,
        "max_running_turns": 8,
        "max_running_turns_per_principal": 4,
        "max_sessions_per_principal": 32,
        "max_agents_per_session": 16,
        "max_message_bytes": 102_400,
        "max_stdio_line_bytes": 4 * 1024 * 1024,
    }


@pytest.mark.parametrize("key", ["read_per_minute", "write_per_minute", "message_per_minute"])
def test_a_rate_of_zero_is_accepted_as_unlimited(key: str) -> None:
    limits = settings_from_mapping({"limits": {key: 0}}).unwrap().limits
    assert getattr(limits, key) == 0


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("read_per_minute", -1, "must be 0 or more, got -1"),
        ("message_per_minute", -30, "must be 0 or more"),
        ("write_per_minute", 1.5, "must be an integer"),
        ("read_burst", 0, "must be greater than 0, got 0"),
        ("write_burst", -2, "must be greater than 0"),
        ("message_burst", "10", "must be an integer"),
        ("max_running_turns", 0, "must be greater than 0"),
        ("max_running_turns_per_principal", 0, "must be greater than 0"),
        ("max_agents_total", 0, "must be greater than 0"),
        ("max_stdio_line_bytes", 0, "must be greater than 0"),
        ("max_stdio_line_bytes", True, "must be an integer"),
    ],
)
def test_a_bad_value_names_its_key(key: str, value: Any, fragment: str) -> None:
    error = settings_from_mapping({"limits": {key: value}}).failure()
    assert error.key == f"limits.{key}"
    assert fragment in error.message


def test_an_unknown_limit_is_refused_naming_the_known_ones() -> None:
    error = settings_from_mapping({"limits": {"messages_per_minute": 5}}).failure()
    assert error.key == "limits.messages_per_minute"
    assert "message_per_minute" in error.message
