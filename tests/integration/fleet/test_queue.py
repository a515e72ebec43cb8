"""The fleet's queue on Postgres: schema setup, batch submit, stalled-job recovery."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest

from agent_graph.fleet import (
    QUEUE,
    TASK_NAME,
    fleet_status,
    make_app,
    recover_stalled_jobs,
    setup_fleet_database,
    submit_keywords,
)
from checkpointers import AsyncPool, open_async_pool

pytestmark = pytest.mark.postgres


async def test_schema_setup_is_idempotent_and_raceable(fresh_database_url: str) -> None:
    async def one() -> None:
        async with open_async_pool(fresh_database_url, max_size=1) as pool:
            await setup_fleet_database(pool)

    await asyncio.gather(*(one() for _ in range(6)))
    await one()  # again, on a set-up database
    async with open_async_pool(fresh_database_url, max_size=1) as pool:
        status = await fleet_status(pool)
    assert status.workers == ()
    assert status.queued == 0


async def test_submit_ten_thousand_keywords_in_one_statement(pool: AsyncPool) -> None:
    # how long it takes is measured by bench/fleet.py, not asserted here
    await setup_fleet_database(pool)
    keywords = [f"keyword number {i}" for i in range(10_000)]
    result = await submit_keywords(pool, keywords)
    assert len(result.queued) == 10_000
    async with pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT count(DISTINCT xmin::text) AS x FROM procrastinate_jobs"
        )
        row = await cursor.fetchone()
    assert row is not None
    assert row["x"] == 1  # one batch, one transaction
    again = await submit_keywords(pool, [*keywords[:3], "keyword number 0", "a new one"])
    assert again.queued == ("a-new-one",)
    assert again.already_queued == ("keyword-number-0", "keyword-number-1", "keyword-number-2")
    assert (await fleet_status(pool)).queued == 10_001


async def _stall(pool: AsyncPool, thread_id: str) -> int:
    """Make the queued job of ``thread_id`` 'doing' on a worker whose heartbeat is old."""
    async with pool.connection() as conn:
        cursor = await conn.execute(
            "INSERT INTO procrastinate_workers (last_heartbeat) "
            "VALUES (now() - interval '1 hour') RETURNING id"
        )
        row = await cursor.fetchone()
        assert row is not None
        cursor = await conn.execute(
            "UPDATE procrastinate_jobs SET status = 'doing', worker_id = %(w)s "
            "WHERE queueing_lock = %(t)s AND status = 'todo' RETURNING id",
            {"w": row["id"], "t": thread_id},
        )
        job = await cursor.fetchone()
        assert job is not None
        return int(job["id"])


async def _job_statuses(pool: AsyncPool, thread_id: str) -> list[str]:
    async with pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT status::text AS s FROM procrastinate_jobs WHERE lock = %(t)s ORDER BY id",
            {"t": thread_id},
        )
        return [row["s"] for row in await cursor.fetchall()]


async def test_stalled_jobs_are_retried_even_with_a_queued_follow_up(
    pool: AsyncPool, database_url: str
) -> None:
    await setup_fleet_database(pool)
    await submit_keywords(pool, ["plain stall", "with follow up"])
    await _stall(pool, "plain-stall")
    await _stall(pool, "with-follow-up")
    # a follow-up of the same thread queued meanwhile (e.g. submitted again): retrying the
    # stalled job would violate the queueing lock (procrastinate issue 1446)
    await submit_keywords(pool, ["with follow up"])
    app = make_app(database_url)
    async with app.open_async():
        retried = await recover_stalled_jobs(app, stalled_after=5)
        again = await recover_stalled_jobs(app, stalled_after=5)
        jobs = await app.job_manager.get_stalled_jobs(queue=QUEUE, task_name=TASK_NAME)
    assert (retried, again, list(jobs)) == (1, 0, [])
    assert await _job_statuses(pool, "plain-stall") == ["todo"]
    assert await _job_statuses(pool, "with-follow-up") == ["failed", "todo"]


async def test_queue_statements_run_alone_and_new_jobs_are_still_heard(
    pool: AsyncPool, database_url: str
) -> None:
    # Autocommit saves a BEGIN and a COMMIT round trip per queue statement; it must not cost
    # the workers their LISTEN connection (the trap of autocommit in the pool's kwargs).
    await setup_fleet_database(pool)
    app = make_app(database_url)
    heard = asyncio.Event()

    async def on_notification(*, channel: str, payload: str) -> None:
        heard.set()

    async with app.open_async():
        async with app.connector.pool.connection() as conn:  # type: ignore[attr-defined]
            assert conn.autocommit
        listening = asyncio.create_task(
            app.connector.listen_notify(on_notification, [f"procrastinate_queue_v1#{QUEUE}"])
        )
        try:
            deadline = time.monotonic() + 20
            # the listener may not be listening yet: submit until a notification arrives
            while not heard.is_set():
                assert time.monotonic() < deadline, "no notification for a submitted job"
                await submit_keywords(pool, [f"heard {time.monotonic_ns()}"])
                await asyncio.wait([asyncio.create_task(heard.wait())], timeout=0.5)
        finally:
            listening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listening


async def test_queue_connections_the_server_ended_are_replaced(
    pool: AsyncPool, database_url: str
) -> None:
    # the queue's pool checks a connection with a round trip only when its socket says the
    # server wrote or hung up (instead of before every statement): it must still recover
    await setup_fleet_database(pool)
    app = make_app(database_url, pool_size=2)
    async with app.open_async():
        queue_pool = app.connector.pool  # type: ignore[attr-defined]
        await queue_pool.wait()
        async with queue_pool.connection() as conn:
            pid = conn.info.backend_pid
        async with pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT pg_terminate_backend(%(pid)s, 10000) AS done", {"pid": pid}
            )
            assert await cursor.fetchone() == {"done": True}
        deferrer = app.configure_task(TASK_NAME, lock="after-kill", queueing_lock="after-kill")
        job_id = await deferrer.defer_async(thread_id="after-kill", keyword="after kill")
    assert await _job_statuses(pool, "after-kill") == ["todo"]
    assert job_id > 0
