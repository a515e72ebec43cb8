"""A synthetic graph for load and chaos tests of the fleet: a chain of nodes that only wait.

``steps`` nodes in a row, each awaiting ``delay_ms`` milliseconds (standing in for an LLM or
HTTP call) and counting itself. Configured by ``AGENT_GRAPH_SYNTHETIC_STEPS`` (default 20) and
``AGENT_GRAPH_SYNTHETIC_DELAY_MS`` (default 50); run it with
``agent-graph worker --graph agent_graph.fleet:open_synthetic_graph``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph

from .._factory import open_runtime
from .._settings import Settings
from ._tasks import FleetGraph

__all__ = ["SYNTHETIC_GRAPH", "build_synthetic_graph", "open_synthetic_graph"]

#: Name of the synthetic graph in the run registry.
SYNTHETIC_GRAPH = "fleet_synthetic"


class SyntheticState(TypedDict, total=False):
    """State of a synthetic thread: its keyword and how many steps ran."""

    keyword: str
    count: int


def _step(delay: float) -> Any:
    async def step(state: SyntheticState) -> dict[str, Any]:
        await asyncio.sleep(delay)
        return {"count": state.get("count", 0) + 1}

    return step


def build_synthetic_graph(steps: int, delay_ms: float) -> StateGraph[Any, Any, Any, Any]:
    """A chain ``step_00 -> step_01 -> ...`` of ``steps`` nodes waiting ``delay_ms`` each."""
    builder: StateGraph[Any, Any, Any, Any] = StateGraph(SyntheticState)
    previous = START
    for index in range(steps):
        name = f"step_{index:02d}"
        builder.add_node(name, _step(delay_ms / 1000))
        builder.add_edge(previous, name)
        previous = name
    builder.add_edge(previous, END)
    return builder


@contextlib.asynccontextmanager
async def open_synthetic_graph(settings: Settings) -> AsyncIterator[FleetGraph]:
    """The synthetic graph on the durable runtime (a :data:`GraphFactory`)."""
    steps = int(os.environ.get("AGENT_GRAPH_SYNTHETIC_STEPS", "20"))
    delay_ms = float(os.environ.get("AGENT_GRAPH_SYNTHETIC_DELAY_MS", "50"))
    async with open_runtime(settings) as runtime:
        runner = runtime.runner(
            build_synthetic_graph(steps, delay_ms),
            name=SYNTHETIC_GRAPH,
            heartbeat_seconds=settings.heartbeat_seconds,
        )
        yield FleetGraph(runner, lambda keyword: {"keyword": keyword, "count": 0})
