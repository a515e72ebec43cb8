"""What the runner reports: thread status and node executions."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from checkpointers import EventRecord

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
    """One execution (attempt) of one node, as ``agent-graph history`` prints it."""

    node: str
    task_id: str | None
    attempt: int
    status: Literal["started", "completed", "failed"]
    started_at: str
    finished_at: str | None = None
    duration_ms: float | None = None
    owner: str | None = None
    error: dict[str, Any] | None = None


def node_executions(events: list[EventRecord]) -> list[NodeExecution]:
    """Fold the node events of one thread into executions, in the order they started."""
    executions: list[NodeExecution] = []
    open_runs: dict[tuple[str | None, str, int], int] = {}
    for event in events:
        if event.kind not in ("node_started", "node_completed", "node_failed") or not event.node:
            continue
        key = (event.task_id, event.node, event.attempt or 1)
        at = event.at if isinstance(event.at, str) else event.at.isoformat()
        if event.kind == "node_started":
            open_runs[key] = len(executions)
            executions.append(
                NodeExecution(
                    node=event.node,
                    task_id=event.task_id,
                    attempt=event.attempt or 1,
                    status="started",
                    started_at=at,
                    owner=event.owner,
                )
            )
            continue
        index = open_runs.pop(key, None)
        if index is None:
            continue
        done = executions[index]
        done.finished_at = at
        done.status = "completed" if event.kind == "node_completed" else "failed"
        duration = event.data.get("duration_ms")
        done.duration_ms = float(duration) if duration is not None else None
        if event.kind == "node_failed":
            done.error = dict(event.data)
    return executions
