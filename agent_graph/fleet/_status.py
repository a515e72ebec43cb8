"""The fleet at a glance: workers with their heartbeats, and threads by state."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from checkpointers import AsyncPool
from checkpointers._queries import QUERIES

from ._app import QUEUE

__all__ = ["FleetStatus", "WorkerInfo", "fleet_status"]


@dataclass(frozen=True)
class WorkerInfo:
    """One worker process as the registry knows it.

    Attributes:
        owner: ``host:pid`` of the process.
        state: ``running``, ``draining``, ``stopped``, or ``dead`` (no heartbeat for longer
            than the staleness limit while not stopped).
        heartbeat_age: seconds since its last heartbeat.
        running: jobs it holds right now.
    """

    owner: str
    state: str
    concurrency: int
    started_at: datetime
    heartbeat_at: datetime
    heartbeat_age: float
    running: int


@dataclass(frozen=True)
class FleetStatus:
    """Workers and thread counts.

    Attributes:
        queued: jobs waiting for a worker.
        running: jobs held by a worker.
        waiting: threads waiting for a human (interrupted).
        dead_lettered: threads taken out of service (crash loop, budget, ...).
        completed, failed: threads by final run status.
    """

    workers: tuple[WorkerInfo, ...]
    queued: int
    running: int
    waiting: int
    dead_lettered: int
    completed: int
    failed: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (datetimes as ISO strings)."""
        data = asdict(self)
        for worker in data["workers"]:
            worker["started_at"] = worker["started_at"].isoformat()
            worker["heartbeat_at"] = worker["heartbeat_at"].isoformat()
        return data


async def fleet_status(
    pool: AsyncPool, *, stalled_after: float = 5.0, forget_after: float = 3600.0
) -> FleetStatus:
    """Read the fleet's state.

    Args:
        pool: an autocommit pool over a database set up by :func:`setup_fleet_database`.
        stalled_after: a worker silent this long (and not stopped) is shown ``dead``.
        forget_after: workers silent this long are removed from the registry.
    """
    async with pool.connection() as conn:
        await conn.execute(QUERIES.fleet_forget_workers, {"seconds": forget_after})
        cursor = await conn.execute(QUERIES.fleet_workers)
        worker_rows = await cursor.fetchall()
        cursor = await conn.execute(QUERIES.fleet_job_counts, {"queue": QUEUE})
        jobs = {row["status"]: row["n"] for row in await cursor.fetchall()}
        cursor = await conn.execute(QUERIES.fleet_run_counts)
        runs = {row["status"]: row["n"] for row in await cursor.fetchall()}
    workers = tuple(
        WorkerInfo(
            owner=row["owner"],
            state="dead"
            if row["state"] != "stopped" and row["heartbeat_age"] > stalled_after
            else row["state"],
            concurrency=row["concurrency"],
            started_at=row["started_at"],
            heartbeat_at=row["heartbeat_at"],
            heartbeat_age=float(row["heartbeat_age"]),
            running=row["running"],
        )
        for row in worker_rows
    )
    return FleetStatus(
        workers=workers,
        queued=jobs.get("todo", 0),
        running=jobs.get("doing", 0),
        waiting=runs.get("waiting_for_human", 0) + runs.get("interrupted", 0),
        dead_lettered=runs.get("dead_lettered", 0),
        completed=runs.get("completed", 0),
        failed=runs.get("failed", 0),
    )
