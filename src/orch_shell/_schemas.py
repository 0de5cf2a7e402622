"""JSON in and out of the tools, generated from the core's attrs views.

The views in ``orch_core`` are the single source of truth: their fields become
the tools' output schemas (via a ``TypedDict`` built from the attrs class, which
pydantic understands) and cattrs turns a view into the JSON object a client
receives, so schema and payload cannot drift apart.
"""

from __future__ import annotations

import enum
import functools
import types
import typing
from typing import Any, Literal, Union

import attrs
import cattrs
from pydantic import TypeAdapter
from typing_extensions import TypedDict

_converter = cattrs.Converter()


def to_json(view: object) -> dict[str, Any]:
    """A view as the JSON object a tool returns (enums as their values)."""
    data = _converter.unstructure(view)
    assert isinstance(data, dict)  # noqa: S101 - views are attrs classes: always a mapping
    return data


@functools.cache
def output_schema(view_type: type) -> dict[str, Any]:
    """The JSON schema of ``view_type``'s JSON form."""
    return TypeAdapter(_typed(view_type)).json_schema()


def _typed(annotation: Any) -> Any:
    """Map an annotation of a view field to one pydantic can describe."""
    if isinstance(annotation, type) and attrs.has(annotation):
        return _typed_dict(annotation)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return Literal[tuple(member.value for member in annotation)]
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        return Union[tuple(_typed(a) for a in typing.get_args(annotation))]  # noqa: UP007
    if origin is list:
        (item,) = typing.get_args(annotation)
        return list[_typed(item)]  # type: ignore[misc]
    return annotation


@functools.cache
def _typed_dict(view_type: type) -> Any:
    hints = typing.get_type_hints(view_type)
    fields = {f.name: _typed(hints[f.name]) for f in attrs.fields(view_type)}
    return TypedDict(view_type.__name__, fields)  # type: ignore[operator]
