"""Reading a thread back: its status as the runner reports it, and whether its driver lives."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph

from checkpointers import thread_cost

from .._errors import ThreadNotFound
from ._context import DurableContext, owner_is_alive
from ._records import REGISTRY_STATES, ThreadStatus, check_thread_id

__all__ = ["describe_thread", "driver_alive", "thread_config"]


def thread_config(thread_id: str) -> RunnableConfig:
    """The LangGraph config addressing ``thread_id``."""
    return {"configurable": {"thread_id": thread_id}}


def driver_alive(ctx: DurableContext, owner: str | None) -> bool:
    """Whether the process ``owner`` that the run registry names as a thread's driver runs.

    This process counts as alive; a process on another host too (its heartbeat decides, in
    the registry's staleness rules).
    """
    if owner == ctx.owner:
        return True
    alive = owner_is_alive(owner)
    return bool(alive) if alive is not None else True


async def describe_thread(
    graph: CompiledStateGraph[Any, Any, Any, Any],
    ctx: DurableContext,
    thread_id: str,
    result_of: Callable[[Mapping[str, Any]], Any],
) -> ThreadStatus:
    """The status of ``thread_id``, from its checkpoint, its run and its events.

    Args:
        graph: the compiled durable graph that runs the thread.
        ctx: the durable context of this process.
        thread_id: the thread.
        result_of: picks the result out of a completed thread's values.

    Raises:
        InvalidThreadId: malformed ID.
        ThreadNotFound: no checkpoint and no run exist for the ID.
    """
    check_thread_id(thread_id)
    snapshot = await graph.aget_state(thread_config(thread_id))
    run = await ctx.runs.get(thread_id)
    if snapshot.created_at is None and run is None:
        raise ThreadNotFound(thread_id)
    events = await ctx.events.list(thread_id, kinds=["node_completed"])
    completed = [e.node for e in events if e.node]
    interrupts = [i for task in snapshot.tasks for i in task.interrupts]
    status: str
    if snapshot.created_at is not None and not snapshot.next and not snapshot.tasks:
        status = "completed"
    elif run is not None and run.status in REGISTRY_STATES:
        status = run.status
    elif interrupts:
        status = "waiting_for_human"
    elif run is not None and run.status == "running" and driver_alive(ctx, run.owner):
        status = "running"
    else:
        status = "incomplete"
    checkpoint = snapshot.config.get("configurable", {}) if snapshot.config else {}
    return ThreadStatus(
        thread_id=thread_id,
        status=status,
        next=list(snapshot.next),
        completed_nodes=completed,
        result=result_of(snapshot.values) if status == "completed" else None,
        error=run.error if run is not None and status != "completed" else None,
        owner=run.owner if run is not None else None,
        recoveries=run.recoveries if run is not None else 0,
        checkpoint_id=checkpoint.get("checkpoint_id"),
        updated_at=snapshot.created_at,
        question=interrupts[0].value if interrupts else None,
        cost=(await thread_cost(ctx.pool, thread_id)).to_dict(),
    )
