"""LangGraph Studio support: ``langgraph dev`` on the content agent and the example graph.

The repository's ``langgraph.json`` serves the graphs of :mod:`._graphs` with the durable saver
of :mod:`._checkpointer`, so runs started from Studio are checkpointed in our Postgres and log
their node events like CLI runs. :func:`studio_command` starts the server and prints its URLs.
Both check their input before anything is saved (:func:`agent_graph.runtime.validate_input_first`).
"""

from ._command import (
    CONFIG_FILE,
    provider_env,
    stop_process_group,
    studio_args,
    studio_command,
    studio_env,
    studio_urls,
)

__all__ = [
    "CONFIG_FILE",
    "provider_env",
    "stop_process_group",
    "studio_args",
    "studio_command",
    "studio_env",
    "studio_urls",
]
