"""The append-only event log (``agent_graph_events``)."""

from __future__ import annotations

import builtins
import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from checkpointers._leases import Leases, lease_errors
from checkpointers._models import EventRecord, NewEvent, jsonb
from checkpointers._pool import AsyncPool
from checkpointers._queries import QUERIES

__all__ = ["AttemptHistory", "EventLog"]


class EventLog:
    """Append and read the events of threads (attempts, retries, failures, recoveries...).

    Args:
        pool: a pool from :func:`open_async_pool` over a database set up with
            :func:`setup_database`.
        leases: the leases this process holds; events of a thread held there are fenced
            (:class:`LeaseLost` instead of an insert once another claim took the thread over).
    """

    def __init__(self, pool: AsyncPool, leases: Leases | None = None) -> None:
        self._pool = pool
        self._leases = leases

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

        Raises:
            LeaseLost: the thread's lease held in ``leases`` is not the run's any more.
        """
        event = NewEvent(thread_id, kind, node, task_id, attempt, owner, data)
        with lease_errors():
            async with self._pool.connection() as conn:
                cursor = await conn.execute(QUERIES.insert_event, self._params(event))
                row = await cursor.fetchone()
        assert row is not None
        return int(row["id"])

    async def append_many(self, events: Sequence[NewEvent]) -> builtins.list[int]:
        """Append several events in one transaction; return their ids in the given order.

        Raises:
            LeaseLost: as :meth:`append` (then none of them is appended).
        """
        if not events:
            return []
        ids: builtins.list[int] = []
        params = [self._params(event) for event in events]
        with lease_errors():
            async with self._pool.connection() as conn, conn.cursor() as cursor:
                # one pipeline, one round trip: its statements are one implicit transaction
                async with conn.pipeline():
                    await cursor.executemany(QUERIES.insert_event, params, returning=True)
                while True:
                    row = await cursor.fetchone()
                    if row is not None:
                        ids.append(int(row["id"]))
                    if not cursor.nextset():
                        break
        return ids

    def _params(self, event: NewEvent) -> dict[str, Any]:
        lease = self._leases.of(event.thread_id) if self._leases is not None else None
        return event_params(event, lease)

    async def attempts(self, thread_id: str) -> dict[str, AttemptHistory]:
        """Earlier attempts of every node task of ``thread_id``, by task ID, in one query.

        Only attempts since the thread's last redrive or escalation answer count.
        """
        async with self._pool.connection() as conn:
            cursor = await conn.execute(QUERIES.attempt_history, {"thread_id": thread_id})
            rows = await cursor.fetchall()
        return {
            str(row["task_id"]): AttemptHistory(
                failed=int(row["failed"]),
                interrupted=int(row["interrupted"]),
                first_at=row["first_at"],
                last_failed_at=row["last_failed_at"],
                last_delay=row["last_delay"],
                last_kind=row["last_kind"],
            )
            for row in rows
        }

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
class AttemptHistory:
    """What earlier attempts of one node task left in the log (see :meth:`EventLog.attempts`).

    Attributes:
        failed: attempts that failed (``node_failed``).
        interrupted: attempts cut off by a crash of their process (``node_interrupted``).
        first_at: when the first of them ended.
        last_failed_at: when the last failed attempt ended, if any.
        last_delay: the backoff chosen after the last failed attempt, in seconds.
        last_kind: ``node_failed`` or ``node_interrupted``, whichever came last.
    """

    failed: int = 0
    interrupted: int = 0
    first_at: datetime | None = None
    last_failed_at: datetime | None = None
    last_delay: float | None = None
    last_kind: str | None = None


def event_params(event: NewEvent, lease: int | None = None) -> dict[str, Any]:
    """The parameters of ``insert_event`` for ``event``, fenced by ``lease`` if given."""
    return {
        "lease": lease,
        "thread_id": event.thread_id,
        "kind": event.kind,
        "node": event.node,
        "task_id": event.task_id,
        "attempt": event.attempt,
        "owner": event.owner,
        "data": jsonb(dict(event.data) if event.data is not None else {}),
    }
