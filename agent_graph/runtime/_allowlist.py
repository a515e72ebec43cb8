"""The checkpoint deserialisation allowlist: exactly the model types a graph's state can hold."""

from __future__ import annotations

import typing
from collections.abc import Iterable
from typing import Any

from langgraph.graph import StateGraph
from pydantic import BaseModel


def model_types(builder: StateGraph[Any, Any, Any, Any]) -> set[tuple[str, ...]]:
    """``(module, name)`` of every pydantic model reachable from the graph's schemas."""
    roots: list[Any] = [builder.state_schema, builder.input_schema, builder.output_schema]
    roots.extend(spec.input_schema for spec in builder.nodes.values())
    found: set[tuple[str, ...]] = set()
    _walk(roots, found, set())
    return found


def _walk(types: Iterable[Any], found: set[tuple[str, ...]], seen: set[int]) -> None:
    for typ in types:
        if typ is None or id(typ) in seen:
            continue
        seen.add(id(typ))
        if isinstance(typ, type) and issubclass(typ, BaseModel):
            found.add((typ.__module__, typ.__qualname__))
            _walk((field.annotation for field in typ.model_fields.values()), found, seen)
            continue
        if isinstance(typ, type) and typing.is_typeddict(typ):
            _walk(typing.get_type_hints(typ, include_extras=True).values(), found, seen)
            continue
        _walk(typing.get_args(typ), found, seen)
