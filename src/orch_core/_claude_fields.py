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
import re
from typing import Any

from ._model import ModelUsage, Usage

_SUMMARY_KEYS = ("command", "file_path", "path", "notebook_path", "url", "pattern", "query")
_SUMMARY_CHARS = 200
_MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@/\[\]-]{0,99}")
UNKNOWN_MODEL = "unknown"


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


def usage_from(value: object) -> Usage:
    """Token counts from a ``usage`` object (snake_case keys, as in ``result.usage``)."""
    if not isinstance(value, dict):
        return Usage()
    # Counts are clamped at 0: a nonsense negative count must not fail the turn.
    return Usage(
        input_tokens=max(0, as_int(value.get("input_tokens"))),
        output_tokens=max(0, as_int(value.get("output_tokens"))),
        cache_read_input_tokens=max(0, as_int(value.get("cache_read_input_tokens"))),
        cache_creation_input_tokens=max(0, as_int(value.get("cache_creation_input_tokens"))),
    )


def model_name(value: object) -> str:
    """A model name fit for a label: the CLI's own if it looks like one, else ``unknown``.

    >>> model_name("claude-opus-4-5[1m]"), model_name("x" * 500), model_name(None)
    ('claude-opus-4-5[1m]', 'unknown', 'unknown')
    """
    if isinstance(value, str) and _MODEL_NAME.fullmatch(value):
        return value
    return UNKNOWN_MODEL


def model_usages(result: dict[str, Any], init_model: str | None) -> tuple[ModelUsage, ...]:
    """This turn's cost and tokens per model (see :func:`turn_cost` for which field).

    ``model_usage_since_last_result`` (camelCase counts) is this turn's, per model;
    without it the whole turn is put on the model ``system``/``init`` named. No
    result at all means nothing is known: ``()``.

    >>> [(m.model, m.cost_usd, m.usage.input_tokens) for m in model_usages(
    ...     {"model_usage_since_last_result": {"opus": {"costUSD": 0.5, "inputTokens": 7}}}, None)]
    [('opus', 0.5, 7)]
    >>> [(m.model, m.cost_usd) for m in model_usages({"total_cost_usd": 2.0}, "sonnet")]
    [('sonnet', 2.0)]
    >>> model_usages({}, "sonnet")
    ()
    """
    if not result:
        return ()
    since = result.get("model_usage_since_last_result")
    if not isinstance(since, dict):
        return (
            ModelUsage(
                model=model_name(init_model),
                cost_usd=max(0.0, as_float(result.get("total_cost_usd"))),
                usage=usage_from(result.get("usage")),
            ),
        )
    return tuple(
        ModelUsage(
            model=model_name(name),
            cost_usd=max(0.0, as_float(entry.get("costUSD"))),
            usage=Usage(
                input_tokens=max(0, as_int(entry.get("inputTokens"))),
                output_tokens=max(0, as_int(entry.get("outputTokens"))),
                cache_read_input_tokens=max(0, as_int(entry.get("cacheReadInputTokens"))),
                cache_creation_input_tokens=max(0, as_int(entry.get("cacheCreationInputTokens"))),
            ),
        )
        for name, entry in since.items()
        if isinstance(entry, dict)
    )
