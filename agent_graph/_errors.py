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


class NotWaiting(DurableAgentError):
    """An answer was given to a thread that is not waiting for one."""

    def __init__(self, thread_id: str, status: str) -> None:
        super().__init__(
            f"thread {thread_id!r} is not waiting for a human (status: {status})",
            hint="list the threads that are with `agent-graph escalations`",
        )
        self.thread_id = thread_id


class ThreadCompensated(DurableAgentError):
    """The thread's side effects were undone (a saga rollback); it cannot go on."""

    def __init__(self, thread_id: str) -> None:
        super().__init__(
            f"thread {thread_id!r} was compensated: its side effects were undone",
            hint="start a new thread (`agent-graph run KEYWORD --thread-id NEW_ID`)",
        )
        self.thread_id = thread_id


class DeadLetterNotFound(DurableAgentError):
    """No open dead letter has the given ID."""

    def __init__(self, letter_id: int, state: str | None) -> None:
        detail = f"it is {state}" if state else "there is none"
        super().__init__(
            f"no open dead letter {letter_id} ({detail})",
            hint="list the open ones with `agent-graph dlq list`",
        )
        self.letter_id = letter_id


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
    "DeadLetterNotFound",
    "DurableAgentError",
    "InvalidInput",
    "InvalidThreadId",
    "NotWaiting",
    "StopRequested",
    "ThreadBusy",
    "ThreadCompensated",
    "ThreadNotFound",
    "ThreadUnfinished",
    "ValidationError",
]


class ValidationError(InvalidInput, ValueError):
    """A graph's input does not match the graph's input schema; nothing of the run was saved.

    Named like pydantic's error whose findings it carries, and a ``ValueError`` like it, so that
    ``langgraph dev`` (LangGraph Studio) reports it as a ``ValidationError`` with its message.

    Args:
        message: names each invalid field and what is wrong with it.
        hint: what to send instead.
        errors: pydantic's error details (``loc``, ``msg``, ``type``), without input values.
    """

    def __init__(
        self, message: str, *, hint: str | None = None, errors: tuple[dict[str, object], ...] = ()
    ) -> None:
        super().__init__(message, hint=hint)
        self.errors = errors
