"""The append-only event log (``agent_graph_events``)."""

from __future__ import annotations

import builtins
import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from checkpointers._models import EventRecord, NewEvent, jsonb
from checkpointers._pool import AsyncPool
from checkpointers._queries import QUERIES

__all__ = ["AttemptStart", "EventLog"]


class EventLog:
    """Append and read the events of threads (attempts, retries, failures, recoveries...).

    Args:
        pool: a pool from :func:`open_async_pool` over a database set up with
            :func:`setup_database`.
    """

    def __init__(self, pool: AsyncPool) -> None:
        self._pool = pool

    async def append(
        self,
        thread_id: str,
        kind: str,
        *,
        node: str | None = None,
        task_id: str | None = None,
        attempt: int | None = None,
        owner: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> int:
        """Append one event (committed when this returns) and return its id.

        Args:
            thread_id: the thread the event belongs to.
            kind: what happened, e.g. ``"node_started"``, ``"retry"``, ``"dead_letter"``.
            node: graph node, if any.
            task_id: langgraph task id, if any.
            attempt: attempt number, if any.
            owner: worker that recorded it, if any.
            data: JSON-able details (must not contain secrets).
        """
        event = NewEvent(thread_id, kind, node, task_id, attempt, owner, data)
        async with self._pool.connection() as conn:
            cursor = await conn.execute(QUERIES.insert_event, event_params(event))
            row = await cursor.fetchone()
        assert row is not None
        return int(row["id"])

    async def append_many(self, events: Sequence[NewEvent]) -> builtins.list[int]:
        """Append several events in one transaction; return their ids in the given order."""
        if not events:
            return []
        ids: builtins.list[int] = []
        async with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cursor:
            await cursor.executemany(
                QUERIES.insert_event, [event_params(event) for event in events], returning=True
            )
            while True:
                row = await cursor.fetchone()
                if row is not None:
                    ids.append(int(row["id"]))
                if not cursor.nextset():
                    break
        return ids

    async def start_attempt(
        self,
        thread_id: str,
        node: str,
        task_id: str,
        *,
        owner: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> AttemptStart:
        """Append a ``node_started`` event numbered after the task's earlier attempts.

        One statement reads the earlier attempts of ``task_id`` (whatever process made them)
        and records the new one, so attempt counts survive restarts at no extra round trip.
        """
        params = event_params(NewEvent(thread_id, "node_started", node, task_id, None, owner, data))
        async with self._pool.connection() as conn:
            cursor = await conn.execute(QUERIES.start_attempt, params)
            row = await cursor.fetchone()
        assert row is not None
        started, failed = int(row["started"]), int(row["failed"])
        return AttemptStart(
            attempt=int(row["attempt"]),
            crashed=started - failed,
            failed=failed,
            first_started_at=row["first_started_at"] or row["at"],
            last_failed_at=row["last_failed_at"],
            last_delay=row["last_delay"],
            at=row["at"],
        )

    async def list(
        self, thread_id: str, *, kinds: Iterable[str] | None = None
    ) -> builtins.list[EventRecord]:
        """The events of ``thread_id`` in the order they were appended.

        Args:
            thread_id: the thread.
            kinds: only events of these kinds (all kinds when ``None``).
        """
        params = {"thread_id": thread_id, "kinds": None if kinds is None else builtins.list(kinds)}
        async with self._pool.connection() as conn:
            cursor = await conn.execute(QUERIES.list_events, params)
            rows = await cursor.fetchall()
        return [EventRecord.from_row(row) for row in rows]


@dataclasses.dataclass(frozen=True, slots=True)
class AttemptStart:
    """What :meth:`EventLog.start_attempt` found and recorded.

    Attributes:
        attempt: the number of the attempt just started (1 for the first, across restarts).
        crashed: earlier attempts that started and never ended (their process died).
        failed: earlier attempts that failed.
        first_started_at: when the first attempt started.
        last_failed_at: when the last failed attempt ended, if any.
        last_delay: the backoff chosen after the last failed attempt, in seconds.
        at: when this attempt started (database clock).
    """

    attempt: int
    crashed: int
    failed: int
    first_started_at: datetime
    last_failed_at: datetime | None
    last_delay: float | None
    at: datetime


def event_params(event: NewEvent) -> dict[str, Any]:
    return {
        "thread_id": event.thread_id,
        "kind": event.kind,
        "node": event.node,
        "task_id": event.task_id,
        "attempt": event.attempt,
        "owner": event.owner,
        "data": jsonb(dict(event.data) if event.data is not None else {}),
    }
