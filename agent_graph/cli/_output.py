"""Rendering for people (rich) and machines (--json)."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from ..runtime import NodeExecution, ThreadStatus

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def print_json(value: Any) -> None:
    """Print ``value`` (models included) as JSON on stdout."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    elif isinstance(value, list):
        value = [v.model_dump(mode="json") if isinstance(v, BaseModel) else v for v in value]
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")
    sys.stdout.flush()


def print_status(status: ThreadStatus) -> None:
    """A short human summary of one thread."""
    colour = {"completed": "green", "failed": "red", "dead_lettered": "red"}.get(
        status.status, "yellow"
    )
    out.print(f"[bold]{status.thread_id}[/bold]: [{colour}]{status.status}[/{colour}]")
    if status.next:
        out.print(f"  next: {', '.join(status.next)}")
    out.print(f"  completed nodes: {len(status.completed_nodes)}")
    if status.error:
        out.print(f"  error: {status.error.get('error_type')}: {status.error.get('message')}")
    if status.cost and status.cost.get("calls"):
        cost = status.cost
        out.print(
            f"  LLM: {cost['calls']} calls, ${cost['usd']:.4f}"
            f" (saved ${cost.get('saved_usd', 0):.4f} after crashes)"
        )
    if isinstance(status.result, dict) and status.result.get("title"):
        out.print(f"  article: {status.result['title']} ({status.result.get('slug')})")


def print_history(thread_id: str, executions: Sequence[NodeExecution]) -> None:
    """A table of node executions."""
    table = Table(title=f"history of {thread_id}")
    for column in ("#", "node", "attempt", "status", "started", "ms", "error"):
        table.add_column(column)
    for i, ex in enumerate(executions, 1):
        error = (ex.error or {}).get("message", "") if ex.error else ""
        table.add_row(
            str(i),
            ex.node,
            str(ex.attempt or ""),
            ex.status,
            (ex.started_at or ex.finished_at or "")[11:23],
            f"{ex.duration_ms:.0f}" if ex.duration_ms is not None else "",
            str(error)[:60],
        )
    out.print(table)


def print_letters(letters: Sequence[Any]) -> None:
    """A table of dead letters."""
    table = Table(title="dead letters")
    for column in ("id", "thread", "node", "kind", "reason", "attempts", "last failure", "state"):
        table.add_column(column)
    for x in letters:
        last = x.last_failure_at.isoformat()[:19] if x.last_failure_at else ""
        table.add_row(
            str(x.id), x.thread_id, x.node or "", x.kind, x.reason, str(x.attempts), last, x.state
        )
    out.print(table)
