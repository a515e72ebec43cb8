"""When the runner may trust a run's stream to tell that the thread completed (no server)."""

from __future__ import annotations

from typing import Any, TypedDict

from langgraph._internal._constants import INTERRUPT
from langgraph.constants import TAG_HIDDEN

from agent_graph.examples import linear_graph
from agent_graph.runtime._driving import INTERRUPT_KEY, streams_every_interrupt


class Doc(TypedDict, total=False):
    text: str


def noop(state: Doc) -> Doc:
    return {}


def test_the_interrupt_key_is_langgraphs() -> None:
    # langgraph keeps the constant private: an upgrade that renames it must fail here
    assert INTERRUPT_KEY == INTERRUPT


def test_a_plain_graph_streams_every_interrupt() -> None:
    graph = linear_graph(Doc, {"a": noop, "b": noop}).compile()
    assert streams_every_interrupt(graph)


def test_hidden_tasks_do_not_stream_their_interrupts() -> None:
    graph: Any = linear_graph(Doc, {"a": noop, "b": noop}).compile()
    assert not streams_every_interrupt(graph.with_config(tags=[TAG_HIDDEN]))
    graph.nodes["b"].tags = [TAG_HIDDEN]
    assert not streams_every_interrupt(graph)
