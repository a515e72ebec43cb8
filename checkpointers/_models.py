"""Records read from and written to our tables (frozen values)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from datetime import datetime
from functools import partial
from typing import Any, Self

from psycopg.rows import DictRow
from psycopg.types.json import Jsonb

__all__ = ["ArticleRecord", "EventRecord", "NewEvent", "RunRecord", "jsonb"]

# Event data and run input are diagnostics first: a value json cannot encode (a datetime, a
# UUID, an exception) is stored as its str() instead of failing the write.
_dumps = partial(json.dumps, default=str, ensure_ascii=False)


def jsonb(value: Any) -> Jsonb | None:
    """Wrap ``value`` for a jsonb parameter (``None`` stays SQL NULL)."""
    return None if value is None else Jsonb(value, dumps=_dumps)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


class _Record:
    """``to_dict`` and ``from_row`` for the frozen dataclasses below."""

    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-ready data (timestamps as ISO 8601 strings)."""
        assert dataclasses.is_dataclass(self)
        return {field.name: _plain(getattr(self, field.name)) for field in dataclasses.fields(self)}

    @classmethod
    def from_row(cls, row: DictRow) -> Self:
        """Build the record from a database row whose columns are named like the fields."""
        return cls(**row)


@dataclasses.dataclass(frozen=True, slots=True)
class NewEvent(_Record):
    """An event to append to the log (see :meth:`EventLog.append` for the fields)."""

    thread_id: str
    kind: str
    node: str | None = None
    task_id: str | None = None
    attempt: int | None = None
    owner: str | None = None
    data: Mapping[str, Any] | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class EventRecord(_Record):
    """One row of ``agent_graph_events``; ``id`` orders events of a thread."""

    id: int
    thread_id: str
    at: datetime
    kind: str
    node: str | None
    task_id: str | None
    attempt: int | None
    owner: str | None
    data: dict[str, Any]


@dataclasses.dataclass(frozen=True, slots=True)
class RunRecord(_Record):
    """One row of ``agent_graph_runs``: a thread's status, owner (worker) and lease."""

    thread_id: str
    graph: str
    status: str
    input: Any
    owner: str | None
    heartbeat_at: datetime | None
    recoveries: int
    error: Any
    lease: int
    created_at: datetime
    updated_at: datetime


@dataclasses.dataclass(frozen=True, slots=True)
class ArticleRecord(_Record):
    """One published article (``agent_graph_articles``)."""

    slug: str
    thread_id: str
    keyword: str
    title: str
    markdown: str
    meta: dict[str, Any]
    created_at: datetime
