"""A fleet worker process: Procrastinate's worker loop plus heartbeats, recovery and draining.

- concurrency: up to ``concurrency`` threads run at once, as asyncio tasks of one process, on
  one graph (and one checkpoint pool) opened for the whole process;
- heartbeat: Procrastinate's worker heartbeat (what stalled-job detection reads), a row in
  ``agent_graph_workers`` (what ``agent-graph fleet`` shows), and the run registry's
  heartbeat of every thread the worker holds, in one statement per interval;
- recovery: every ``recovery_interval`` seconds each worker puts back in the queue the jobs of
  workers silent for ``stalled_after`` seconds (Procrastinate only detects them; retrying is
  up to us). A stalled job whose thread already has a queued follow-up is closed instead of
  retried (retrying would violate the queueing lock, procrastinate issue 1446);
- SIGTERM / SIGINT drain: no new job is taken, running threads stop at their next node
  boundary (checkpointed), are handed back to the queue, and the process exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from dataclasses import dataclass

from procrastinate import App, exceptions, jobs, utils

from checkpointers import AsyncPool, open_async_pool, resolve_dsn
from checkpointers._queries import QUERIES

from .._repeating import repeating
from .._settings import Settings
from ._app import QUEUE, TASK_NAME, make_app
from ._fetching import FleetJobs, FleetWorker
from ._schema import setup_fleet_database
from ._tasks import GraphFactory, ThreadDriver, load_graph_factory, open_content_graph

__all__ = ["WorkerOptions", "recover_stalled_jobs", "run_worker"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerOptions:
    """How one worker process runs.

    Args:
        concurrency: threads run at once by this process.
        fetchers: jobs fetched at once while the queue has work (a burst of queued threads
            starts that many times faster on a busy worker).
        graph: ``module:function`` of a :data:`GraphFactory`; None for the content agent.
        heartbeat_seconds: interval of the worker heartbeat.
        stalled_after: seconds without heartbeat after which a worker is presumed dead and
            its jobs are run again by others.
        recovery_interval: seconds between two scans for stalled jobs.
        poll_interval: seconds between two polls for jobs (besides LISTEN/NOTIFY).
        grace_seconds: on SIGTERM, how long running threads get to reach a node boundary
            before they are cancelled.
        max_recoveries: crash recoveries of a thread before it is dead-lettered.
    """

    concurrency: int = 16
    fetchers: int = 8
    graph: str | None = None
    heartbeat_seconds: float = 1.0
    stalled_after: float = 5.0
    recovery_interval: float = 1.0
    poll_interval: float = 0.5
    grace_seconds: float = 30.0
    max_recoveries: int = 3


async def recover_stalled_jobs(app: App, *, stalled_after: float) -> int:
    """Put the jobs of silent workers back in the queue; return how many were retried."""
    stalled = await app.job_manager.get_stalled_jobs(
        queue=QUEUE, task_name=TASK_NAME, seconds_since_heartbeat=stalled_after
    )
    retried = 0
    for job in stalled:
        assert job.id is not None
        try:
            await app.job_manager.retry_job_by_id_async(job.id, retry_at=utils.utcnow())
            retried += 1
        except exceptions.UniqueViolation:
            # a follow-up job of the same thread is queued: it will resume the thread
            await app.job_manager.finish_job_by_id_async(
                job.id, status=jobs.Status.FAILED, delete_job=False
            )
        except exceptions.ConnectorException:
            continue  # another worker retried it first
        logger.info(
            "recovered stalled job",
            extra={"job_id": job.id, "thread_id": job.lock, "dead_worker": job.worker_id},
        )
    return retried


async def run_worker(
    settings: Settings, options: WorkerOptions, *, factory: GraphFactory | None = None
) -> None:
    """Serve the fleet's queue until SIGTERM / SIGINT, then drain and return.

    Args:
        settings: configuration (database, provider, failpoints...).
        options: see :class:`WorkerOptions`.
        factory: opens the graph; default: ``options.graph`` or the content agent.

    Raises:
        DatabaseUnavailable, MigrationError, ConfigurationError: at start-up.
    """
    if factory is None:
        factory = load_graph_factory(options.graph) if options.graph else open_content_graph
    dsn = await asyncio.to_thread(resolve_dsn, settings.database_url, data_dir=settings.data_dir)
    settings = settings.model_copy(update={"database_url": dsn})
    async with open_async_pool(dsn, min_size=1, max_size=2) as pool:
        await setup_fleet_database(pool)
        async with factory(settings) as graph:
            _tune_gc()
            driver = ThreadDriver(graph, max_recoveries=options.max_recoveries)
            # a connection per fetch loop, plus the job ends and the heartbeats
            app = make_app(dsn, driver, pool_size=options.fetchers + 2)
            driver.app = app
            async with app.open_async():
                await _serve(app, pool, driver, options)


#: Allocations between two young-generation collections (CPython's default is 2000).
GC_THRESHOLDS = (50_000, 20, 100)


def _tune_gc() -> None:
    """Make the garbage collector cheap for a process running hundreds of threads at once.

    Once the graph is loaded, everything alive (modules, the compiled graph, pools) stays for
    the life of the process: freezing it keeps the collector from walking it again at every
    full collection. Each node-step allocates thousands of short-lived objects (freed by
    reference counting), so collecting after every 2,000 allocations mostly scans the live
    state of the threads in flight; fewer, larger collections cost less per step.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    logger.debug("garbage collector tuned", extra={"frozen": gc.get_freeze_count()})


async def _serve(app: App, pool: AsyncPool, driver: ThreadDriver, options: WorkerOptions) -> None:
    ctx = driver.runner.ctx
    app.job_manager = FleetJobs(app, driver.lost_jobs)
    worker = FleetWorker(
        app,
        fetchers=options.fetchers,
        queues=[QUEUE],
        name=ctx.owner,
        concurrency=options.concurrency,
        fetch_job_polling_interval=options.poll_interval,
        shutdown_graceful_timeout=options.grace_seconds,
        install_signal_handlers=False,
        update_heartbeat_interval=options.heartbeat_seconds,
        stalled_worker_timeout=max(options.stalled_after * 4, 60.0),
    )
    owner = ctx.owner
    # One heartbeat statement for every thread this worker holds (runs_beat below) instead of
    # one per thread from the runner: 1000 threads would cost 1000 UPDATEs per interval.
    run_heartbeat = driver.runner.heartbeat_seconds or 1.0
    driver.runner.heartbeat_seconds = None
    async with pool.connection() as conn:
        await conn.execute(
            QUERIES.fleet_register_worker,
            {"owner": owner, "queue_worker": None, "concurrency": options.concurrency},
        )
    loop = asyncio.get_running_loop()
    draining = asyncio.Event()

    def drain() -> None:
        if not draining.is_set():
            logger.info("draining: stopping at node boundaries", extra={"owner": owner})
            draining.set()
            ctx.request_stop()
            worker.stop()  # type: ignore[no-untyped-call]

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, drain)
    announced_drain = False

    async def worker_beat() -> None:
        nonlocal announced_drain
        async with pool.connection() as conn:
            if draining.is_set() and not announced_drain:
                announced_drain = True
                draining_state = {"owner": owner, "state": "draining"}
                await conn.execute(QUERIES.fleet_worker_state, draining_state)
            await conn.execute(
                QUERIES.fleet_worker_heartbeat, {"owner": owner, "queue_worker": worker.worker_id}
            )

    async def runs_beat() -> None:
        await driver.runner.ctx.runs.heartbeat(owner, list(driver.in_flight))

    async def recover() -> None:
        await recover_stalled_jobs(app, stalled_after=options.stalled_after)

    logger.info(
        "worker ready", extra={"owner": owner, "concurrency": options.concurrency, "queue": QUEUE}
    )
    try:
        async with contextlib.AsyncExitStack() as chores:
            for interval, chore, what, at_once in (
                (options.heartbeat_seconds, worker_beat, "worker heartbeat", True),
                (run_heartbeat, runs_beat, "run heartbeat", False),
                (options.recovery_interval, recover, "stalled-job scan", False),
            ):
                await chores.enter_async_context(
                    repeating(interval, chore, what=what, at_once=at_once, extra={"owner": owner})
                )
            await worker.run()  # type: ignore[no-untyped-call]
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        async with pool.connection() as conn:
            await conn.execute(QUERIES.fleet_worker_state, {"owner": owner, "state": "stopped"})
    logger.info("worker stopped", extra={"owner": owner})
