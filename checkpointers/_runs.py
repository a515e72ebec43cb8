"""The run registry (``agent_graph_runs``): status, owner, heartbeat and recoveries per thread."""

from __future__ import annotations

import builtins
import dataclasses
from collections.abc import Iterable
from datetime import timedelta
from typing import Any, LiteralString

from checkpointers._errors import RunNotFound
from checkpointers._events import event_params
from checkpointers._group_commit import GroupCommitter
from checkpointers._held_writes import HeldWrites
from checkpointers._models import NewEvent, RunRecord, jsonb
from checkpointers._pool import AsyncPool
from checkpointers._queries import QUERIES

__all__ = ["RunClaim", "RunRegistry"]


@dataclasses.dataclass(frozen=True, slots=True)
class RunClaim:
    """What :meth:`RunRegistry.claim` returns.

    Args:
        previous: the run as it was before the claim (a ``running`` status with another owner
            means that owner stopped, crashed or froze, without finishing).
        lease: the fencing token of this claim: hold it in :class:`Leases` while driving.
    """

    previous: RunRecord
    lease: int


class RunRegistry:
    """One row per thread: which graph, its status, which worker owns it and since when.

    Args:
        pool: a pool from :func:`open_async_pool` over a database set up with
            :func:`setup_database`.
        committer: commits :meth:`finish`'s writes, in transactions shared with other
            threads' writes (one of its own over ``pool`` if not given).
    """

    def __init__(self, pool: AsyncPool, committer: GroupCommitter | None = None) -> None:
        self._pool = pool
        self._committer = committer if committer is not None else GroupCommitter(pool)

    async def get(self, thread_id: str) -> RunRecord | None:
        """The run of ``thread_id``, or None if there is none."""
        return await self._one(QUERIES.get_run, {"thread_id": thread_id})

    async def create(
        self, thread_id: str, graph: str, input: Any, *, status: str = "pending"
    ) -> RunRecord:
        """Register a run; if ``thread_id`` already has one, return it unchanged.

        Args:
            thread_id: the thread (primary key).
            graph: name of the graph that runs it.
            input: JSON-able input of the run (must not contain secrets).
            status: initial status of a new run.
        """
        params = {"thread_id": thread_id, "graph": graph, "status": status, "input": jsonb(input)}
        created = await self._one(QUERIES.create_run, params)
        if created is not None:
            return created
        existing = await self.get(thread_id)
        if existing is None:  # deleted between the two statements
            raise RunNotFound(f"run {thread_id!r} vanished while being created")
        return existing

    async def start_new(
        self, thread_id: str, graph: str, input: Any, *, owner: str, event: NewEvent
    ) -> RunRecord | None:
        """Register a brand-new thread's run already claimed by ``owner`` (status ``running``,
        fresh heartbeat, the first lease, as :meth:`claim` would leave it) and append ``event``,
        in one statement, round trip and commit.

        Nothing is written when the thread has a run or a checkpoint: the caller then takes the
        general path (:meth:`get`, :meth:`create`, :meth:`claim`).

        Args:
            thread_id: the thread.
            graph: name of the graph that runs it.
            input: JSON-able input of the run (must not contain secrets).
            owner: the process that drives the thread from now on.
            event: the thread's first event (e.g. ``run_started``), appended unfenced.

        Returns:
            The new run (its ``lease`` is the claim's fencing token), or None if the thread
            already exists.

        Raises:
            ValueError: ``event`` belongs to another thread.
        """
        if event.thread_id != thread_id:
            raise ValueError(f"event of thread {event.thread_id!r} given for {thread_id!r}")
        params = event_params(event) | {"graph": graph, "input": jsonb(input), "run_owner": owner}
        return await self._one(QUERIES.start_new_run, params)

    async def claim(self, thread_id: str, owner: str) -> RunClaim:
        """Mark the run ``running`` by ``owner`` with a fresh heartbeat and a new lease,
        atomically (a concurrent claim waits, then takes the lease after this one).

        Raises:
            RunNotFound: no run for ``thread_id``.
        """
        async with self._pool.connection() as conn:
            cursor = await conn.execute(QUERIES.claim_run, {"thread_id": thread_id, "owner": owner})
            row = await cursor.fetchone()
        if row is None:
            raise RunNotFound(f"no run registered for thread {thread_id!r}")
        lease = int(row.pop("new_lease"))
        return RunClaim(RunRecord.from_row(row), lease)

    async def set_status(
        self,
        thread_id: str,
        status: str,
        *,
        error: Any = None,
        owner: str | None = None,
        lease: int | None = None,
    ) -> bool:
        """Set the status and error of a run (``error=None`` clears a previous error).

        Args:
            thread_id: the thread.
            status: the new status.
            error: JSON-able error details (class, message, attempts...) or None.
            owner: if given, update only while the run is still owned by ``owner``.
            lease: if given, update only while ``lease`` is the run's (no newer claim).

        Returns:
            True if the run was updated, False if it does not exist, has another owner or
            another lease.
        """
        params = _status_params(thread_id, status, error, owner, lease)
        async with self._pool.connection() as conn:
            cursor = await conn.execute(QUERIES.set_run_status, params)
            return await cursor.fetchone() is not None

    async def finish(
        self,
        event: NewEvent,
        status: str,
        *,
        error: Any = None,
        owner: str | None = None,
        lease: int | None = None,
    ) -> None:
        """Set the status of ``event``'s run (as :meth:`set_status`) and append ``event``, in
        one transaction and one round trip (which other threads' writes may share).

        Raises:
            LeaseLost: ``lease`` is not the run's any more (nothing is written).
        """
        thread_id = event.thread_id
        update = (QUERIES.set_run_status, [_status_params(thread_id, status, error, owner, lease)])
        fence = (thread_id, lease) if lease is not None else None
        held = HeldWrites(rows=[update], events=[event])
        # the UPDATE locks the thread's run row: name it, for the batch's lock order
        await self._committer.commit(fence, held, thread_id=thread_id)

    async def heartbeat(self, owner: str, thread_ids: Iterable[str]) -> frozenset[str]:
        """Refresh the heartbeat of the runs ``owner`` still owns among ``thread_ids``.

        Returns:
            The thread ids refreshed; any missing id was claimed by someone else (lease lost).
        """
        ids = builtins.list(thread_ids)
        if not ids:
            return frozenset()
        async with self._pool.connection() as conn:
            cursor = await conn.execute(QUERIES.heartbeat_runs, {"owner": owner, "thread_ids": ids})
            return frozenset(row["thread_id"] for row in await cursor.fetchall())

    async def increment_recoveries(self, thread_id: str) -> int:
        """Add one to the run's recovery count and return the new count.

        Raises:
            RunNotFound: no run for ``thread_id``.
        """
        async with self._pool.connection() as conn:
            cursor = await conn.execute(QUERIES.increment_recoveries, {"thread_id": thread_id})
            row = await cursor.fetchone()
        if row is None:
            raise RunNotFound(f"no run registered for thread {thread_id!r}")
        return int(row["recoveries"])

    async def list(self, status: str | None = None, limit: int = 100) -> builtins.list[RunRecord]:
        """Runs, newest first, optionally only those with ``status``."""
        return await self._many(QUERIES.list_runs, {"status": status, "limit": limit})

    async def stale(
        self, older_than: timedelta | float, *, limit: int = 100
    ) -> builtins.list[RunRecord]:
        """``running`` runs whose heartbeat is older than ``older_than`` (seconds or timedelta),
        oldest first: candidates for recovery by another worker."""
        seconds = older_than.total_seconds() if isinstance(older_than, timedelta) else older_than
        return await self._many(QUERIES.list_stale_runs, {"seconds": seconds, "limit": limit})

    async def _one(self, query: LiteralString, params: dict[str, Any]) -> RunRecord | None:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(query, params)
            row = await cursor.fetchone()
        return None if row is None else RunRecord.from_row(row)

    async def _many(self, query: LiteralString, params: dict[str, Any]) -> builtins.list[RunRecord]:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(query, params)
            rows = await cursor.fetchall()
        return [RunRecord.from_row(row) for row in rows]


def _status_params(
    thread_id: str, status: str, error: Any, owner: str | None, lease: int | None
) -> dict[str, Any]:
    return {
        "thread_id": thread_id,
        "status": status,
        "error": jsonb(error),
        "owner": owner,
        "lease": lease,
    }
