"""The graphs ``langgraph dev`` serves (see ``langgraph.json``), compiled without a checkpointer.

The server adds its checkpointer (our durable saver, :mod:`._checkpointer`) to every run. The
content agent talks to ``OPENAI_API_KEY``/``OPENAI_BASE_URL`` and ``AGENT_GRAPH_SERVICES_URL``
when both are set; otherwise an offline provider is started when this module is imported and
stopped when the server exits.
"""

from __future__ import annotations

import atexit
import contextlib
from typing import Any

from langgraph.pregel import Pregel

from agent_graph._factory import _endpoints
from agent_graph._settings import Settings
from agent_graph.content import GRAPH_NAME, NODE_KINDS, ContentServices, build_content_graph
from agent_graph.examples import EXAMPLE_NAME, build_greeting_graph
from agent_graph.runtime import make_durable, validate_input_first


def _content_services() -> ContentServices:
    settings = Settings()
    stack = contextlib.ExitStack()
    llm, services_url, _ = stack.enter_context(_endpoints(settings, True))
    atexit.register(stack.close)
    return ContentServices(llm, services_url, settings.http_timeout)


def build_studio_graphs() -> dict[str, Pregel[Any, Any, Any, Any]]:
    """Compile the content agent and the example, both durable, without a checkpointer.

    Both check their input before anything is saved (:func:`validate_input_first`).
    """
    content = make_durable(build_content_graph(_content_services()), kinds=NODE_KINDS)
    example = make_durable(build_greeting_graph())
    return {
        GRAPH_NAME: validate_input_first(content.compile(name=GRAPH_NAME)),
        EXAMPLE_NAME: validate_input_first(example.compile(name=EXAMPLE_NAME)),
    }


_GRAPHS = build_studio_graphs()
content_agent = _GRAPHS[GRAPH_NAME]
durable_example = _GRAPHS[EXAMPLE_NAME]
