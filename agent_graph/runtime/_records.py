"""What the runner reports: thread status and node executions."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field

from checkpointers import EventRecord

from .._errors import InvalidThreadId

ThreadState = Literal[
    "completed",
    "incomplete",
    "running",
    "failed",
    "waiting_for_human",
    "dead_lettered",
    "compensating",
    "compensated",
    "discarded",
    "budget_exceeded",
]
#: Statuses the run registry decides (the checkpoint alone cannot tell them).
REGISTRY_STATES = (
    "failed",
    "dead_lettered",
    "compensating",
    "compensated",
    "discarded",
    "budget_exceeded",
)


class ThreadStatus(BaseModel):
    """The state of one thread, as ``agent-graph status --json`` prints it."""

    thread_id: str
    status: ThreadState
    next: list[str] = Field(default_factory=list, description="Nodes still to run.")
    completed_nodes: list[str] = Field(default_factory=list)
    result: Any = None
    error: dict[str, Any] | None = None
    owner: str | None = None
    recoveries: int = 0
    checkpoint_id: str | None = None
    updated_at: str | None = None
    question: dict[str, Any] | None = Field(
        default=None, description="The escalation's question, when waiting for a human."
    )
    cost: dict[str, Any] | None = Field(
        default=None,
        description="LLM spend: usd, prompt_tokens, completion_tokens, calls, replayed_calls, "
        "saved_usd (paid before a crash and not paid again), per_node.",
    )


class NodeExecution(BaseModel):
    """One execution (attempt) of one node, as ``agent-graph history`` prints it.

    ``status`` is ``completed``, ``failed``, or ``interrupted`` (its process died while it ran;
    recorded when the thread was resumed).
    """

    node: str
    task_id: str | None
    attempt: int | None
    status: Literal["completed", "failed", "interrupted"]
    started_at: str | None
    finished_at: str | None = None
    duration_ms: float | None = None
    owner: str | None = None
    error: dict[str, Any] | None = None


_OUTCOMES = {
    "node_completed": "completed",
    "node_failed": "failed",
    "node_interrupted": "interrupted",
}


def node_executions(events: list[EventRecord]) -> list[NodeExecution]:
    """The node executions recorded in a thread's events, in the order they started."""
    executions: list[tuple[str, int, NodeExecution]] = []
    for event in events:
        status = _OUTCOMES.get(event.kind)
        if status is None or not event.node:
            continue
        at = event.at if isinstance(event.at, str) else event.at.isoformat()
        started = event.data.get("started_at")
        duration = event.data.get("duration_ms")
        execution = NodeExecution(
            node=event.node,
            task_id=event.task_id,
            attempt=event.attempt,
            status=status,
            started_at=str(started) if started else None,
            finished_at=at,
            duration_ms=float(duration) if duration is not None else None,
            owner=event.owner,
            error=dict(event.data) if status == "failed" else None,
        )
        executions.append((str(started) if started else at, event.id, execution))
    return [execution for _, _, execution in sorted(executions, key=lambda e: (e[0], e[1]))]


_THREAD_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")


def check_thread_id(thread_id: str) -> str:
    """Return ``thread_id`` if well-formed, else raise :class:`InvalidThreadId`."""
    if not _THREAD_ID.match(thread_id):
        raise InvalidThreadId(
            f"malformed thread ID {thread_id!r}",
            hint="use 1-128 characters: letters, digits and . _ : @ -, starting with a letter "
            "or digit",
        )
    return thread_id


def jsonable_values(values: Mapping[str, Any]) -> Any:
    """A thread's state values as JSON data (pydantic models dumped)."""
    return {
        key: value.model_dump(mode="json") if isinstance(value, BaseModel) else value
        for key, value in values.items()
    }
