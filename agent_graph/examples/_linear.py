"""A graph whose nodes run one after the other, the shape of the examples and of most tests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langgraph.graph import END, START, StateGraph


def linear_graph(
    state_schema: type[Any],
    nodes: Mapping[str, Any],
    *,
    input_schema: type[Any] | None = None,
) -> StateGraph[Any, Any, Any, Any]:
    """Build an (uncompiled) ``StateGraph`` that runs ``nodes`` in order, from START to END.

    Args:
        state_schema: the graph's state (a ``TypedDict`` or a pydantic model).
        nodes: node name to node function (sync or async), in the order they run.
        input_schema: what the graph takes as input; default ``state_schema``.

    Returns:
        The builder: ``START -> first -> ... -> last -> END``; add to it or compile it.
    """
    builder: StateGraph[Any, Any, Any, Any] = StateGraph(state_schema, input_schema=input_schema)
    previous = START
    for name, node in nodes.items():
        builder.add_node(name, node)
        builder.add_edge(previous, name)
        previous = name
    builder.add_edge(previous, END)
    return builder
