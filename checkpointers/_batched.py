"""One statement for many rows: the array forms of the saver's row statements.

A group commit carries the checkpoint, blob, write and event rows of dozens of threads. Sent
with ``executemany``, each row is one execution on the server (bind, plan lookup, executor
start) and one trip through the client's pipeline machinery. Sent as arrays, one per column,
zipped by ``unnest``, a statement is executed once for all its rows: the same rows, the same
conflict handling, a fraction of the work on both sides.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, LiteralString

from langgraph.checkpoint.postgres import base as stock

from checkpointers._events import event_params
from checkpointers._models import NewEvent
from checkpointers._queries import QUERIES

__all__ = ["ArrayForm", "array_form", "event_columns", "row_columns"]


@dataclass(frozen=True, slots=True)
class ArrayForm:
    """The array form of a one-row statement.

    Args:
        query: the statement taking one array per column.
        columns: the parameter names of the columns, in the one-row statement's order.
        key: positions of the conflict key when later rows overwrite earlier ones
            (``DO UPDATE``): one statement cannot update a row twice, so only the last row
            of each key is sent, which is what executing the rows one by one leaves. None
            when a conflict keeps the first row (``DO NOTHING``).
    """

    query: LiteralString
    columns: tuple[str, ...]
    key: tuple[int, ...] | None = None


_BLOB = ("thread_id", "checkpoint_ns", "channel", "version", "type", "blob")
_CHECKPOINT = (
    "thread_id",
    "checkpoint_ns",
    "checkpoint_id",
    "parent_checkpoint_id",
    "checkpoint",
    "metadata",
)
_WRITE = (
    "thread_id",
    "checkpoint_ns",
    "checkpoint_id",
    "task_id",
    "task_path",
    "idx",
    "channel",
    "type",
    "blob",
)
_EVENT = ("thread_id", "kind", "node", "task_id", "attempt", "owner", "data", "lease")

_FORMS: Mapping[str, ArrayForm] = {
    stock.UPSERT_CHECKPOINT_BLOBS_SQL: ArrayForm(QUERIES.batch_upsert_checkpoint_blobs, _BLOB),
    stock.UPSERT_CHECKPOINTS_SQL: ArrayForm(
        QUERIES.batch_upsert_checkpoints, _CHECKPOINT, key=(0, 1, 2)
    ),
    stock.UPSERT_CHECKPOINT_WRITES_SQL: ArrayForm(
        QUERIES.batch_upsert_checkpoint_writes, _WRITE, key=(0, 1, 2, 3, 5)
    ),
    stock.INSERT_CHECKPOINT_WRITES_SQL: ArrayForm(QUERIES.batch_insert_checkpoint_writes, _WRITE),
}


def array_form(query: str) -> ArrayForm | None:
    """The array form of ``query`` (one of langgraph's saver statements), None if it has
    none (it is then executed row by row)."""
    return _FORMS.get(query)


def row_columns(form: ArrayForm, rows: Sequence[Sequence[Any]]) -> dict[str, list[Any]]:
    """The parameters of ``form.query``: ``rows`` (positional parameter rows of the one-row
    statement) as one list per column."""
    if form.key is not None:
        last = {tuple(row[i] for i in form.key): row for row in rows}
        rows = list(last.values())
    return dict(zip(form.columns, map(list, zip(*rows, strict=True)), strict=True))


def event_columns(
    events: Sequence[NewEvent], leases: Mapping[str, int] | None
) -> dict[str, list[Any]]:
    """The parameters of ``batch_insert_events``: ``events`` as columns, each fenced by its
    thread's lease in ``leases`` (None: not fenced)."""
    params = [
        event_params(e, leases.get(e.thread_id) if leases is not None else None) for e in events
    ]
    return {name: [p[name] for p in params] for name in _EVENT}
