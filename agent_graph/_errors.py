"""Errors raised by the runtime and the runner (all derive from DurableAgentError)."""

from __future__ import annotations

from langgraph.errors import GraphBubbleUp

from policies._errors import ConfigurationError, DurableAgentError


class ThreadNotFound(DurableAgentError):
    """No checkpoint and no run exist for a thread ID."""

    def __init__(self, thread_id: str) -> None:
        super().__init__(
            f"unknown thread {thread_id!r}: no run or checkpoint has this ID",
            hint="check the ID with `agent-graph status`, or start it with `agent-graph run`",
        )
        self.thread_id = thread_id


class ThreadUnfinished(DurableAgentError):
    """A start with new input was asked for a thread that has pending work."""

    def __init__(self, thread_id: str, next_nodes: tuple[str, ...]) -> None:
        pending = ", ".join(next_nodes) or "pending work"
        super().__init__(
            f"thread {thread_id!r} is unfinished (next: {pending}); new input would discard it",
            hint=f"continue it with `agent-graph resume {thread_id}`",
        )
        self.thread_id = thread_id
        self.next_nodes = next_nodes


class ThreadBusy(DurableAgentError):
    """Another live process is driving the thread."""

    def __init__(self, thread_id: str, owner: str) -> None:
        super().__init__(
            f"thread {thread_id!r} is being run by {owner}",
            hint="wait for it to finish, or stop that process first",
        )
        self.thread_id = thread_id
        self.owner = owner


class InvalidThreadId(ConfigurationError):
    """A thread ID has characters or a length the runner does not accept."""


class InvalidInput(ConfigurationError):
    """The input given to a graph is malformed (for example an empty keyword)."""


class StopRequested(GraphBubbleUp):
    """Raised at a node boundary after SIGTERM / Ctrl-C: the run stops, resumable.

    It derives from LangGraph's ``GraphBubbleUp`` so that nodes already running in the same
    superstep finish and have their writes saved; only nodes not yet started are left pending.
    """


__all__ = [
    "ConfigurationError",
    "DurableAgentError",
    "InvalidInput",
    "InvalidThreadId",
    "StopRequested",
    "ThreadBusy",
    "ThreadNotFound",
    "ThreadUnfinished",
]
