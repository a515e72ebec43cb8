"""durable-agent-graph: LangGraph agents that survive crashes, rate limits and flaky tools.

The Python API::

    from agent_graph import open_content_agent

    async with open_content_agent() as agent:
        [status] = await agent.run(["solar panels"])
        print(status.result["title"])
"""

from ._errors import (
    ConfigurationError,
    DurableAgentError,
    InvalidInput,
    InvalidThreadId,
    StopRequested,
    ThreadBusy,
    ThreadNotFound,
    ThreadUnfinished,
)
from ._factory import (
    ContentAgent,
    Runtime,
    article_request,
    open_content_agent,
    open_runtime,
    thread_id_for,
)
from ._settings import Settings
from .runtime import (
    Compensations,
    DurableContext,
    DurableSaver,
    Failpoints,
    IdempotencyKeyConflict,
    NodeExecution,
    Runner,
    ThreadStatus,
    Undo,
    compensate,
    compensation,
    durable_context,
    effect,
    idempotent,
    make_durable,
    side_effect,
)

__all__ = [
    "Compensations",
    "ConfigurationError",
    "ContentAgent",
    "DurableAgentError",
    "DurableContext",
    "DurableSaver",
    "Failpoints",
    "IdempotencyKeyConflict",
    "InvalidInput",
    "InvalidThreadId",
    "NodeExecution",
    "Runner",
    "Runtime",
    "Settings",
    "StopRequested",
    "ThreadBusy",
    "ThreadNotFound",
    "ThreadStatus",
    "ThreadUnfinished",
    "Undo",
    "article_request",
    "compensate",
    "compensation",
    "durable_context",
    "effect",
    "idempotent",
    "make_durable",
    "open_content_agent",
    "open_runtime",
    "side_effect",
    "thread_id_for",
]
