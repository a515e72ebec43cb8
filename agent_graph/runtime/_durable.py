"""make_durable: wrap every node of a user's StateGraph with the durable runtime."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Mapping
from typing import Any, cast

from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda
from langgraph.errors import GraphBubbleUp
from langgraph.graph import StateGraph

from checkpointers import NewEvent
from policies import OperationKind, decide

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

    The wrapped nodes run under the retry policy of their operation kind: each exception is
    classified (retryable, fatal, escalate), retryable ones are retried after a backoff (or the
    provider's Retry-After), and every attempt is recorded in the event log, so attempt counts
    survive restarts. They also honour stop requests at node boundaries and pass through
    failpoints. Compile the builder with a durable saver (see
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
        return await _run_node(ctx, NodeRun.from_config(name, config), kind, inner, state, config)

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
    kind: OperationKind,
    inner: Runnable[Any, Any],
    state: Any,
    config: RunnableConfig,
) -> Any:
    """One node execution: attempts under the retry policy, each recorded in the event log."""
    policy = ctx.policies.for_node(run.node, kind)
    while True:
        if ctx.stop_requested:
            raise StopRequested(f"stop requested before node {run.node!r}")
        ctx.failpoints.hit(f"node:{run.node}:start")
        start = await ctx.events.start_attempt(
            run.thread_id, run.node, run.task_id or "", owner=ctx.owner, data={"step": run.step}
        )
        if start.failed and start.last_failed_at and start.last_delay:
            # a backoff cut short by a crash is served in full after the restart
            waited = (start.at - start.last_failed_at).total_seconds()
            await _sleep(ctx, run, start.last_delay - waited)
        began = time.monotonic()
        try:
            result = await inner.ainvoke(state, config)
        except GraphBubbleUp:
            raise
        except Exception as exc:
            classification = ctx.classifier.classify(exc)
            elapsed = (start.at - start.first_started_at).total_seconds()
            elapsed += time.monotonic() - began
            decision = decide(
                classification,
                attempt=start.attempt,
                elapsed=elapsed,
                policy=policy,
                random=random.random(),
            )
            await ctx.events.append(
                run.thread_id,
                "node_failed",
                node=run.node,
                task_id=run.task_id,
                attempt=start.attempt,
                owner=ctx.owner,
                data={
                    **classification.to_dict(),
                    "action": decision.action,
                    "delay": decision.delay,
                    "why": decision.why,
                    "duration_ms": round((time.monotonic() - began) * 1000, 3),
                },
            )
            logger.info(
                "node %s attempt %d failed (%s): %s",
                run.node,
                start.attempt,
                classification.reason,
                decision.why,
                extra={
                    "thread_id": run.thread_id,
                    "node": run.node,
                    "reason": classification.reason,
                },
            )
            if decision.action != "retry":
                raise
            await _sleep(ctx, run, decision.delay)
            continue
        ctx.failpoints.hit(f"node:{run.node}:end")
        completed = NewEvent(
            run.thread_id,
            "node_completed",
            run.node,
            run.task_id,
            start.attempt,
            ctx.owner,
            {"duration_ms": round((time.monotonic() - began) * 1000, 3)},
        )
        if run.task_id:
            # committed in the same transaction as the node's writes (see DurableSaver)
            ctx.defer_event(run.task_id, completed)
        else:
            await ctx.events.append_many([completed])
        return result


async def _sleep(ctx: DurableContext, run: NodeRun, seconds: float) -> None:
    """Back off, waking early to honour a stop request (the attempt count is durable)."""
    deadline = time.monotonic() + max(seconds, 0.0)
    while (left := deadline - time.monotonic()) > 0:
        if ctx.stop_requested:
            raise StopRequested(f"stop requested during the backoff of {run.node!r}")
        await asyncio.sleep(min(left, 0.25))
