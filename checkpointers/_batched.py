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

from checkpointers._arrays import Kind, encode_column
from checkpointers._events import event_params
from checkpointers._models import NewEvent
from checkpointers._queries import QUERIES

__all__ = ["ArrayForm", "array_form", "event_columns", "row_columns"]


@dataclass(frozen=True, slots=True)
class ArrayForm:
    """The array form of a one-row statement.

    Args:
        query: the statement taking one array per column.
        columns: the parameter names of the columns and their element types, in the one-row
            statement's order.
        key: positions of the conflict key when later rows overwrite earlier ones
            (``DO UPDATE``): one statement cannot update a row twice, so only the last row
            of each key is sent, which is what executing the rows one by one leaves. None
            when a conflict keeps the first row (``DO NOTHING``).
    """

    query: LiteralString
    columns: tuple[tuple[str, Kind], ...]
    key: tuple[int, ...] | None = None


_BLOB: tuple[tuple[str, Kind], ...] = (
    ("thread_id", "text"),
    ("checkpoint_ns", "text"),
    ("channel", "text"),
    ("version", "text"),
    ("type", "text"),
    ("blob", "bytea"),
)
_CHECKPOINT: tuple[tuple[str, Kind], ...] = (
    ("thread_id", "text"),
    ("checkpoint_ns", "text"),
    ("checkpoint_id", "text"),
    ("parent_checkpoint_id", "text"),
    ("checkpoint", "jsonb"),
    ("metadata", "jsonb"),
)
_WRITE: tuple[tuple[str, Kind], ...] = (
    ("thread_id", "text"),
    ("checkpoint_ns", "text"),
    ("checkpoint_id", "text"),
    ("task_id", "text"),
    ("task_path", "text"),
    ("idx", "int4"),
    ("channel", "text"),
    ("type", "text"),
    ("blob", "bytea"),
)
_EVENT: tuple[tuple[str, Kind], ...] = (
    ("thread_id", "text"),
    ("kind", "text"),
    ("node", "text"),
    ("task_id", "text"),
    ("attempt", "int4"),
    ("owner", "text"),
    ("data", "jsonb"),
    ("lease", "int8"),
)

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


def row_columns(form: ArrayForm, rows: Sequence[Sequence[Any]]) -> dict[str, Any]:
    """The parameters of ``form.query``: ``rows`` (positional parameter rows of the one-row
    statement) as one encoded array per column (see :func:`encode_column`)."""
    if form.key is not None:
        last = {tuple(row[i] for i in form.key): row for row in rows}
        rows = list(last.values())
    values = zip(*rows, strict=True)
    return {
        name: encode_column(kind, column)
        for (name, kind), column in zip(form.columns, values, strict=True)
    }


def event_columns(events: Sequence[NewEvent], leases: Mapping[str, int] | None) -> dict[str, Any]:
    """The parameters of ``batch_insert_events``: ``events`` as encoded columns, each fenced
    by its thread's lease in ``leases`` (None: not fenced)."""
    params = [
        event_params(e, leases.get(e.thread_id) if leases is not None else None) for e in events
    ]
    return {name: encode_column(kind, [p[name] for p in params]) for name, kind in _EVENT}
