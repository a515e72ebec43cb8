"""What the runner does around a drive: heartbeats, the tasks a crashed driver left, and
whether the stream alone tells that a thread completed."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

from langgraph.constants import START, TAG_HIDDEN
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import StateSnapshot

from checkpointers import AttemptHistory, NewEvent

from .._repeating import repeating
from ._context import DurableContext

__all__ = ["INTERRUPT_KEY", "interrupted_tasks", "run_heartbeat", "streams_every_interrupt"]

#: The key of the update chunk langgraph streams for an interrupt (its INTERRUPT constant,
#: which langgraph 1.x keeps private).
INTERRUPT_KEY = "__interrupt__"


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


def streams_every_interrupt(graph: CompiledStateGraph[Any, Any, Any, Any]) -> bool:
    """Whether ``graph.astream(..., stream_mode="updates")`` (with no tags in its config) that
    returns without raising and without an :data:`INTERRUPT_KEY` chunk has run the thread to its
    end, so that nothing remains to run (what ``aget_state`` would tell by an empty ``next``).

    Why (langgraph 1.2, ``pregel/main.py`` ``Pregel.astream`` and ``pregel/_loop.py``): the
    loop ``while loop.tick()`` ends on ``out_of_steps`` or ``draining``, which ``astream``
    raises (``GraphRecursionError``, ``GraphDrained``), or on ``done``, when
    ``PregelLoop.tick`` prepared no next task. The only other way out without an exception is
    a ``GraphInterrupt`` that ``PregelLoop._suppress_interrupt`` swallows at the root, and each
    one streams an ``"__interrupt__"`` update: a breakpoint (``interrupt_before`` /
    ``interrupt_after`` in ``tick`` / ``after_tick``) raises an empty ``GraphInterrupt``, for
    which ``_suppress_interrupt`` emits ``{"__interrupt__": ()}``; an ``interrupt()`` in a node,
    or in a subgraph (its ``GraphInterrupt`` fails the parent's task), is saved by
    ``PregelRunner.commit`` through ``PregelLoop.put_writes``, whose ``output_writes`` emits it,
    except for a ``call`` task (its caller's task emits it) and a task tagged ``TAG_HIDDEN``.
    Hence the condition: no node but START (which only writes the input) and not the graph's
    config carries that tag; otherwise the caller must read the state back.
    """
    config_tags = (graph.config or {}).get("tags") or ()
    if TAG_HIDDEN in config_tags:
        return False
    return not any(
        TAG_HIDDEN in (node.tags or ()) for name, node in graph.nodes.items() if name != START
    )
