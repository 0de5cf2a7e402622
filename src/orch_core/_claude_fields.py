"""Reading single fields of what the Claude Code CLI prints, leniently.

The CLI's output is untrusted and grows new shapes often, so a field of the wrong
type reads as empty or zero instead of failing the turn, and a number that is not
finite (``1e999``, a huge integer) reads as zero.

>>> (as_int(True), as_float(10**400), as_text(""), summarise_input({"path": "a.py"}))
(0, 0.0, None, 'a.py')
"""

from __future__ import annotations

import json
import math
from typing import Any

_SUMMARY_KEYS = ("command", "file_path", "path", "notebook_path", "url", "pattern", "query")
_SUMMARY_CHARS = 200


def as_int(value: object) -> int:
    """An integer that is not a bool, else 0."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def as_float(value: object) -> float:
    """A finite number that is not a bool, else 0.0."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    try:
        number = float(value)
    except OverflowError:  # a JSON integer too big for a float
        return 0.0
    return number if math.isfinite(number) else 0.0


def as_text(value: object) -> str | None:
    """A non-empty string, else None."""
    return value if isinstance(value, str) and value else None


def summarise_input(tool_input: object) -> str:
    """A one-line hint of what a refused tool call wanted, bounded in size."""
    if isinstance(tool_input, dict):
        for key in _SUMMARY_KEYS:
            if isinstance(tool_input.get(key), str):
                return str(tool_input[key])[:_SUMMARY_CHARS]
    try:
        return json.dumps(tool_input, sort_keys=True, default=str)[:_SUMMARY_CHARS]
    except (ValueError, TypeError, RecursionError):
        return ""


def turn_cost(result: dict[str, Any]) -> float:
    """What this turn cost in USD, not what the conversation has cost so far.

    On ``--resume``, 2.1.328's ``total_cost_usd`` is the conversation's running
    total; ``model_usage_since_last_result`` holds this turn's cost per model, so it
    wins whenever it is a dict (even empty); without it, ``total_cost_usd`` is all
    there is.

    >>> turn_cost({"total_cost_usd": 2.0, "model_usage_since_last_result": {
    ...     "opus": {"costUSD": 0.5}, "haiku": {"costUSD": 0.25}}})
    0.75
    >>> turn_cost({"total_cost_usd": 2.0, "model_usage_since_last_result": {}})
    0.0
    >>> turn_cost({"total_cost_usd": 2.0})
    2.0
    """
    since = result.get("model_usage_since_last_result")
    if not isinstance(since, dict):
        return as_float(result.get("total_cost_usd"))
    total = sum(
        as_float(model.get("costUSD")) for model in since.values() if isinstance(model, dict)
    )
    return as_float(total)  # a sum of huge costs can still overflow to inf
