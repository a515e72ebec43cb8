"""Fetch loops of a fleet worker: a burst of queued threads is taken by several fetches at
once, each job runs once, and an empty queue costs no more than with Procrastinate's loop."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import pytest
from procrastinate import App, JobContext, jobs

from agent_graph.fleet import QUEUE, make_app, setup_fleet_database, submit_keywords
from agent_graph.fleet._fetching import FleetJobs, FleetWorker
from checkpointers import AsyncPool

pytestmark = pytest.mark.postgres


class CountedJobs(FleetJobs):
    """FleetJobs that records how many fetches were in flight at once."""

    def __init__(self, app: App) -> None:
        super().__init__(app, set())
        self.fetches = 0
        self.in_flight = 0
        self.most_in_flight = 0

    async def fetch_job(self, queues: Any, worker_id: int) -> jobs.Job | None:
        self.fetches += 1
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            return await super().fetch_job(queues, worker_id)
        finally:
            self.in_flight -= 1


async def _until(check: Any, what: str) -> None:
    deadline = time.monotonic() + 30
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def test_a_burst_is_fetched_by_several_loops_and_each_job_runs_once(
    pool: AsyncPool, database_url: str
) -> None:
    await setup_fleet_database(pool)
    keywords = [f"burst {i}" for i in range(40)]
    await submit_keywords(pool, keywords)
    ran: Counter[str] = Counter()
    release = asyncio.Event()

    async def body(context: JobContext, thread_id: str, keyword: str) -> str:
        ran[thread_id] += 1
        await release.wait()
        return "completed"

    app = make_app(database_url, body, pool_size=6)
    async with app.open_async():
        manager = CountedJobs(app)
        app.job_manager = manager
        worker = FleetWorker(
            app, fetchers=4, queues=[QUEUE], concurrency=40, install_signal_handlers=False
        )
        running = asyncio.create_task(worker.run())  # type: ignore[no-untyped-call]
        try:
            await _until(lambda: len(ran) == len(keywords), "every job to start")
            release.set()
            async with pool.connection() as conn:

                async def finished() -> int:
                    cursor = await conn.execute(
                        "SELECT count(*) AS n FROM procrastinate_jobs WHERE status = 'succeeded'"
                    )
                    row = await cursor.fetchone()
                    return int(row["n"]) if row else 0

                deadline = time.monotonic() + 30
                while await finished() < len(keywords):
                    assert time.monotonic() < deadline, "jobs did not finish"
                    await asyncio.sleep(0.05)
        finally:
            worker.stop()  # type: ignore[no-untyped-call]
            await running
    assert set(ran.values()) == {1}
    assert 1 < manager.most_in_flight <= 4


async def test_an_idle_worker_fetches_one_job_at_a_time(pool: AsyncPool, database_url: str) -> None:
    await setup_fleet_database(pool)

    async def body(context: JobContext, thread_id: str, keyword: str) -> str:
        raise AssertionError("the queue is empty")

    app = make_app(database_url, body, pool_size=10)
    async with app.open_async():
        manager = CountedJobs(app)
        app.job_manager = manager
        worker = FleetWorker(
            app,
            fetchers=8,
            queues=[QUEUE],
            concurrency=16,
            fetch_job_polling_interval=0.02,
            install_signal_handlers=False,
        )
        running = asyncio.create_task(worker.run())  # type: ignore[no-untyped-call]
        try:
            await _until(lambda: manager.fetches >= 20, "twenty polls of the empty queue")
        finally:
            worker.stop()  # type: ignore[no-untyped-call]
            await running
    assert manager.most_in_flight == 1
