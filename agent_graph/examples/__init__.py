"""Small example graphs that show the durable runtime on a graph of your own.

:func:`build_greeting_graph` is a three-step ``StateGraph`` over :class:`GreetingState`; wrap it
with :func:`agent_graph.make_durable` and run it with :meth:`agent_graph.Runtime.runner`, or open
it in LangGraph Studio (``langgraph.json`` serves it as ``durable_example``).
:func:`linear_graph` wires any nodes one after the other, the same way.
"""

from ._greeting import EXAMPLE_NAME, GreetingState, build_greeting_graph
from ._linear import linear_graph

__all__ = ["EXAMPLE_NAME", "GreetingState", "build_greeting_graph", "linear_graph"]
