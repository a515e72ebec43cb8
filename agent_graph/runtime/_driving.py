"""What the runner does around a drive: heartbeats, and the tasks a crashed driver left."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping

from langgraph.types import StateSnapshot

from checkpointers import AttemptHistory, NewEvent

from .._repeating import repeating
from ._context import DurableContext

__all__ = ["interrupted_tasks", "run_heartbeat"]


def interrupted_tasks(
    snapshot: StateSnapshot,
    earlier: Mapping[str, AttemptHistory],
    thread_id: str,
    owner: str,
    crashed_owner: str | None,
) -> list[NewEvent]:
    """``node_interrupted`` events for the tasks a crashed process left unfinished.

    They count as attempts (and toward the crash-loop limit); a task that was waiting out a
    backoff after a recorded failure was not running, so it is not counted again.

    Args:
        snapshot: the thread's state (its pending tasks).
        earlier: the thread's attempt history by task ID.
        thread_id: the thread.
        owner: this process (recording the events).
        crashed_owner: the process that was driving the thread.
    """
    return [
        NewEvent(
            thread_id,
            "node_interrupted",
            task.name,
            task.id,
            None,
            owner,
            {"crashed_owner": crashed_owner},
        )
        for task in snapshot.tasks
        if task.result is None
        and not task.interrupts
        and task.error is None
        and (earlier.get(task.id) is None or earlier[task.id].last_kind != "node_failed")
    ]


@contextlib.asynccontextmanager
async def run_heartbeat(
    ctx: DurableContext, thread_id: str, seconds: float | None
) -> AsyncIterator[None]:
    """Refresh the run's heartbeat every ``seconds`` while the block runs (None: someone
    else beats, e.g. a fleet worker for all its threads at once)."""
    if seconds is None:
        yield
        return

    async def beat() -> None:
        await ctx.runs.heartbeat(ctx.owner, [thread_id])

    async with repeating(seconds, beat, what="run heartbeat", extra={"thread_id": thread_id}):
        yield
