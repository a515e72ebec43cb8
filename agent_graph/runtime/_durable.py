"""make_durable: wrap every node of a user's StateGraph with the durable runtime."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any, cast

from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda
from langgraph.errors import GraphBubbleUp
from langgraph.graph import StateGraph

from checkpointers import NewEvent
from policies import OperationKind, redact

from .._errors import StopRequested
from ._context import DurableContext, NodeRun, durable_context

logger = logging.getLogger(__name__)

_DURABLE_MARK = "__durable_agent_graph__"


def make_durable(
    builder: StateGraph[Any, Any, Any, Any],
    *,
    kinds: Mapping[str, OperationKind] | None = None,
) -> StateGraph[Any, Any, Any, Any]:
    """Wrap every node of ``builder`` so that it runs under the durable runtime.

    The wrapped nodes record their executions in the event log, honour stop requests at node
    boundaries and pass through failpoints. Compile the builder with a durable saver (see
    :func:`agent_graph.open_runtime`) to switch these on; without one the nodes behave as before.
    Call this after every ``add_node``; nodes added later are not wrapped.

    Args:
        builder: the user's uncompiled ``StateGraph``; it is changed in place and returned.
        kinds: operation kind per node name (``llm``, ``http``, ``db``, ``file``, ``tool``), which
            selects the retry policy; nodes not named use ``tool``.

    Returns:
        The same builder, for chaining.
    """
    kinds = dict(kinds or {})
    for name, spec in builder.nodes.items():
        if getattr(spec.runnable, _DURABLE_MARK, False):
            continue
        spec.runnable = _wrap(
            name, cast(Runnable[Any, Any], spec.runnable), kinds.get(name, "tool")
        )
        spec.retry_policy = None
    return builder


def _wrap(name: str, inner: Runnable[Any, Any], kind: OperationKind) -> Runnable[Any, Any]:
    async def durable_node(state: Any, config: RunnableConfig) -> Any:
        ctx = durable_context(config)
        if ctx is None:
            return await inner.ainvoke(state, config)
        return await _run_node(ctx, NodeRun.from_config(name, config), inner, state, config)

    def sync_node(state: Any, config: RunnableConfig) -> Any:
        raise RuntimeError(
            f"node {name!r} is durable and runs on asyncio: call ainvoke/astream, or use the "
            "Runner's synchronous helpers"
        )

    wrapped = RunnableLambda(sync_node, afunc=durable_node, name=name)
    setattr(wrapped, _DURABLE_MARK, True)
    return wrapped


async def _run_node(
    ctx: DurableContext,
    run: NodeRun,
    inner: Runnable[Any, Any],
    state: Any,
    config: RunnableConfig,
) -> Any:
    if ctx.stop_requested:
        raise StopRequested(f"stop requested before node {run.node!r}")
    ctx.failpoints.hit(f"node:{run.node}:start")
    attempt = 1
    await ctx.events.append(
        run.thread_id,
        "node_started",
        node=run.node,
        task_id=run.task_id,
        attempt=attempt,
        owner=ctx.owner,
        data={"step": run.step},
    )
    started = time.monotonic()
    try:
        result = await inner.ainvoke(state, config)
    except GraphBubbleUp:
        raise
    except Exception as exc:
        await ctx.events.append(
            run.thread_id,
            "node_failed",
            node=run.node,
            task_id=run.task_id,
            attempt=attempt,
            owner=ctx.owner,
            data={"error_type": type(exc).__name__, "message": redact(str(exc))[:500]},
        )
        raise
    ctx.failpoints.hit(f"node:{run.node}:end")
    completed = NewEvent(
        run.thread_id,
        "node_completed",
        run.node,
        run.task_id,
        attempt,
        ctx.owner,
        {"duration_ms": round((time.monotonic() - started) * 1000, 3)},
    )
    if run.task_id:
        # committed in the same transaction as the node's writes (see DurableSaver)
        ctx.defer_event(run.task_id, completed)
    else:
        await ctx.events.append_many([completed])
    return result
