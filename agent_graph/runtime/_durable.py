"""make_durable: wrap every node of a user's StateGraph with the durable runtime."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, cast

from langchain_core.runnables import Runnable, RunnableConfig
from langgraph._internal._runnable import RunnableCallable
from langgraph.errors import GraphBubbleUp, GraphInterrupt
from langgraph.graph import StateGraph
from langgraph.types import interrupt

from checkpointers import AttemptHistory, LeaseLost, NewEvent
from policies import Classification, OperationKind, check_budget, decide

from .._errors import StopRequested
from ._context import (
    DurableContext,
    NodeRun,
    NodeScope,
    durable_context,
    enter_scope,
    exit_scope,
)
from ._failure import (
    PATCH_KEY,
    Answer,
    FailureReport,
    NodeDeadLettered,
    apply_patch,
    has_answer,
    parse_answer,
    question,
    with_patch,
)

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

    # LangGraph's own node runnable, untraced: the user's node below it is traced as usual,
    # and the wrapper adds no callback run of its own to every step.
    wrapped = RunnableCallable(sync_node, durable_node, name=name, trace=False)
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
    patch = (config.get("configurable", {}).get(PATCH_KEY) or {}).get(run.node)
    state = apply_patch(state, patch)
    asked = 0
    if has_answer(config) and await _escalation_pending(ctx, run):
        # resumed with a person's answer to this node's escalation: act on it first, even if
        # the cause went away meanwhile (an abort stays an abort, a patch is applied)
        answer = await _ask(ctx, run, None, asked)
        asked += 1
        if answer.action == "abort" and await _redriven_after_abort(ctx, run):
            # LangGraph keeps handing this task the "abort" it was given; the person has since
            # redriven the dead letter, so that answer is spent: run the node afresh
            answer = Answer(action="retry")
        if answer.action == "abort":
            raise NodeDeadLettered(await _aborted(ctx, run))
        if answer.action == "skip":
            return with_patch({}, answer.patch)
        patch = {**(patch or {}), **(answer.patch or {})} or None
        state = apply_patch(state, answer.patch)
    earlier = await ctx.earlier_attempts(run.thread_id, run.task_id)
    if check_budget(ctx.budget, recoveries=earlier.interrupted) is not None:
        await _crash_loop(ctx, run, earlier)
    attempt = earlier.failed + earlier.interrupted + 1
    first_at = earlier.first_at or datetime.now(UTC)
    if earlier.last_kind == "node_failed" and earlier.last_failed_at and earlier.last_delay:
        # the process died during a backoff: serve the rest of it before the next attempt
        waited = (datetime.now(UTC) - earlier.last_failed_at).total_seconds()
        await _sleep(ctx, run, earlier.last_delay - waited)
    while True:
        if ctx.stop_requested:
            raise StopRequested(f"stop requested before node {run.node!r}")
        ctx.failpoints.hit(f"node:{run.node}:start")
        started_at = datetime.now(UTC)
        began = time.monotonic()
        token = enter_scope(NodeScope(ctx, run, attempt))
        try:
            result = await inner.ainvoke(state, config)
        except (GraphBubbleUp, LeaseLost):
            raise  # an interrupt, or another driver owns the thread now: not a node failure
        except Exception as exc:
            classification = ctx.classifier.classify(exc)
            decision = decide(
                classification,
                attempt=attempt,
                elapsed=(datetime.now(UTC) - first_at).total_seconds(),
                policy=policy,
                random=random.random(),
            )
            await _record_failure(
                ctx,
                run,
                attempt,
                classification,
                action=decision.action,
                delay=decision.delay,
                why=decision.why,
                started_at=started_at.isoformat(),
                duration_ms=round((time.monotonic() - began) * 1000, 3),
            )
            logger.info(
                "node %s attempt %d failed (%s): %s",
                run.node,
                attempt,
                classification.reason,
                decision.why,
                extra={
                    "thread_id": run.thread_id,
                    "node": run.node,
                    "reason": classification.reason,
                },
            )
            if decision.action == "retry":
                ctx.failpoints.hit(f"node:{run.node}:backoff")
                await _sleep(ctx, run, decision.delay)
                attempt += 1
                continue
            report = FailureReport(
                node=run.node,
                task_id=run.task_id,
                kind=classification.kind if decision.action == "escalate" else "fatal",
                classification=classification,
                attempts=attempt,
                first_failure_at=first_at,
                last_failure_at=datetime.now(UTC),
                extra={"why": decision.why},
            )
            if decision.action != "escalate":
                raise NodeDeadLettered(report) from exc
            answer = await _ask(ctx, run, classification, asked)
            asked += 1
            if answer.action == "abort":
                raise NodeDeadLettered(replace(report, kind="aborted")) from exc
            if answer.action == "skip":
                return with_patch({}, answer.patch)
            patch = {**(patch or {}), **(answer.patch or {})} or None
            state = apply_patch(state, answer.patch)
            attempt, first_at = 1, datetime.now(UTC)  # a person asked for fresh attempts
            continue
        finally:
            exit_scope(token)
        ctx.failpoints.hit(f"node:{run.node}:end")
        completed = NewEvent(
            run.thread_id,
            "node_completed",
            run.node,
            run.task_id,
            attempt,
            ctx.owner,
            {
                "started_at": started_at.isoformat(),
                "duration_ms": round((time.monotonic() - began) * 1000, 3),
            },
        )
        if run.task_id:
            # committed in the same transaction as the node's writes (see DurableSaver)
            ctx.defer_event(run.task_id, completed)
        else:
            await ctx.events.append_many([completed])
        return with_patch(result, patch)


async def _ask(
    ctx: DurableContext, run: NodeRun, classification: Classification | None, index: int
) -> Answer:
    """Pause the thread with a question; when it is resumed with an answer, return it.

    LangGraph re-runs the node from its start on resume and hands the n-th ``interrupt`` of the
    task the n-th answer, so the question is asked again at the same point and returns.
    """
    payload = question(run.node, run.thread_id, classification)
    while True:
        try:
            value = interrupt(payload)
        except GraphInterrupt:
            await ctx.events.append(
                run.thread_id,
                "escalated",
                node=run.node,
                task_id=run.task_id,
                owner=ctx.owner,
                data={
                    "question": payload["question"],
                    "index": index,
                    "classification": payload["classification"],
                },
            )
            raise
        answer = parse_answer(value)
        if answer is not None:
            await ctx.events.append(
                run.thread_id,
                "escalation_resolved",
                node=run.node,
                task_id=run.task_id,
                owner=ctx.owner,
                data=answer.model_dump(),
            )
            return answer


async def _escalation_pending(ctx: DurableContext, run: NodeRun) -> bool:
    """Whether this task's last escalation awaits its answer (else a resume value is the node's
    own ``interrupt``'s, not ours)."""
    events = await ctx.events.list(run.thread_id, kinds=["escalated", "escalation_resolved"])
    return any(e.kind == "escalated" and e.task_id == run.task_id for e in events)


async def _redriven_after_abort(ctx: DurableContext, run: NodeRun) -> bool:
    events = await ctx.events.list(run.thread_id, kinds=["escalation_resolved", "run_redriven"])
    aborts = [
        e.id
        for e in events
        if e.kind == "escalation_resolved"
        and e.task_id == run.task_id
        and e.data.get("action") == "abort"
    ]
    return bool(aborts) and any(e.kind == "run_redriven" and e.id > aborts[0] for e in events)


async def _aborted(ctx: DurableContext, run: NodeRun) -> FailureReport:
    """The failure report of an escalation a person answered with ``abort``."""
    escalations = await ctx.events.list(run.thread_id, kinds=["escalated"])
    mine = [e for e in escalations if e.task_id == run.task_id]
    known = mine[-1].data.get("classification") if mine else None
    classification = (
        Classification.from_dict(known)
        if isinstance(known, dict)
        else Classification(kind="escalate", reason="aborted", error_type="", message="")
    )
    return FailureReport(
        node=run.node,
        task_id=run.task_id,
        kind="aborted",
        classification=classification,
        attempts=len(mine),
        first_failure_at=mine[0].at if mine else None,
        last_failure_at=datetime.now(UTC),
    )


async def _record_failure(
    ctx: DurableContext,
    run: NodeRun,
    attempt: int,
    classification: Classification,
    *,
    action: str,
    delay: float,
    **details: Any,
) -> None:
    """Append the ``node_failed`` event of one attempt: what happened, what the policy decided
    (``action``, ``delay`` before the next attempt) and any ``details``. Attempt counts and
    backoffs are read back from these events after a restart."""
    await ctx.events.append(
        run.thread_id,
        "node_failed",
        node=run.node,
        task_id=run.task_id,
        attempt=attempt,
        owner=ctx.owner,
        data={**classification.to_dict(), "action": action, "delay": delay, **details},
    )


async def _crash_loop(ctx: DurableContext, run: NodeRun, earlier: AttemptHistory) -> None:
    classification = Classification(
        kind="fatal",
        reason="crash_loop",
        error_type="ProcessCrash",
        message=f"the process died {earlier.interrupted} times running this node",
    )
    attempt = earlier.failed + earlier.interrupted + 1
    await _record_failure(ctx, run, attempt, classification, action="dead_letter", delay=0.0)
    raise NodeDeadLettered(
        FailureReport(
            node=run.node,
            task_id=run.task_id,
            kind="crash_loop",
            classification=classification,
            attempts=attempt,
            first_failure_at=earlier.first_at,
            last_failure_at=datetime.now(UTC),
        )
    )


async def _sleep(ctx: DurableContext, run: NodeRun, seconds: float) -> None:
    """Back off, waking early to honour a stop request (the attempt count is durable)."""
    deadline = time.monotonic() + max(seconds, 0.0)
    while (left := deadline - time.monotonic()) > 0:
        if ctx.stop_requested:
            raise StopRequested(f"stop requested during the backoff of {run.node!r}")
        await asyncio.sleep(min(left, 0.25))
