"""Turning a node's final failure into a dead letter, and reading the queue back."""

from __future__ import annotations

from checkpointers import DeadLetter, DeadLetterStore, NewDeadLetter

from ._context import DurableContext
from ._failure import FailureReport


async def record_dead_letter(
    ctx: DurableContext,
    thread_id: str,
    report: FailureReport,
    *,
    graph: str,
    checkpoint_id: str | None,
) -> DeadLetter:
    """Put a thread in the dead-letter queue with what is known about its failure."""
    c = report.classification
    return await DeadLetterStore(ctx.pool).add(
        NewDeadLetter(
            thread_id=thread_id,
            graph=graph,
            node=report.node,
            task_id=report.task_id,
            kind=report.kind,
            reason=c.reason,
            error_type=c.error_type,
            status_code=c.status,
            code=c.code,
            message=c.message,
            attempts=report.attempts,
            first_failure_at=report.first_failure_at,
            last_failure_at=report.last_failure_at,
            checkpoint_id=checkpoint_id,
        )
    )
