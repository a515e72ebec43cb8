"""Taking jobs off the queue with several fetches in flight at once.

Procrastinate's worker takes one job per turn of its loop: wait for a free slot, fetch, start
the job. On an event loop saturated by hundreds of threads in flight, each turn costs a few
passes of the loop (about 10 ms each), which paced thread starts at about 50 per second per
worker: a burst of 1,000 queued threads took 7-9 s to start on two workers, and the last of
them finished seconds after the others, with cores idle (``bench/fleet.py``,
``starts_span_s``). Several fetch loops run side by side here, bounded by the same slots.

An empty queue still costs one fetch per wake-up: the extra loops join only once the first has
found a job.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from procrastinate import App, jobs
from procrastinate.manager import JobManager
from procrastinate.worker import Worker

__all__ = ["FleetJobs", "FleetWorker"]

logger = logging.getLogger(__name__)


class FleetJobs(JobManager):
    """Procrastinate's job manager as a fleet worker uses it.

    - It leaves alone the jobs of threads this worker lost to another one. A frozen worker's
      job is retried by the stalled-job scan and runs on another worker under the same job ID.
      When the frozen worker wakes up, its fenced driver gives the thread up; marking the job
      finished then would end it under the worker that now runs it.
    - It tells :class:`FleetWorker` when a fetch found a job.

    Args:
        app: the worker's app (its connector is reused).
        lost: IDs of jobs whose thread was taken over; the driver adds them, the manager
            removes each when it skips its finish.
    """

    def __init__(self, app: App, lost: set[int]) -> None:
        super().__init__(app.connector)
        self.lost = lost
        self.found_job = asyncio.Event()

    async def fetch_job(self, queues: Any, worker_id: int) -> jobs.Job | None:
        job = await super().fetch_job(queues, worker_id)
        if job is not None:
            self.found_job.set()
        return job

    async def finish_job(self, job: jobs.Job, status: jobs.Status, delete_job: bool) -> None:
        if job.id is not None and job.id in self.lost:
            self.lost.discard(job.id)
            logger.info(
                "job %s left to the worker that took its thread over",
                job.id,
                extra={"job_id": job.id, "status": status.value},
            )
            return
        await super().finish_job(job, status, delete_job)


class FleetWorker(Worker):
    """Procrastinate's worker with ``fetchers`` fetch loops when the queue has work.

    Args:
        app: the app, whose ``job_manager`` is a :class:`FleetJobs`.
        fetchers: fetch loops at most (1: Procrastinate's own behaviour).
        kwargs: Procrastinate's :class:`~procrastinate.worker.Worker` arguments.
    """

    def __init__(self, app: App, *, fetchers: int, **kwargs: Any) -> None:
        if not isinstance(app.job_manager, FleetJobs):
            raise TypeError("FleetWorker needs app.job_manager to be a FleetJobs")
        super().__init__(app, **kwargs)
        self.jobs: FleetJobs = app.job_manager
        self.fetchers = max(1, fetchers)

    async def _fetch_and_process_jobs(self) -> None:
        # Each loop below is Procrastinate's: it takes a free slot, fetches, starts the job, and
        # returns when a fetch finds nothing; the slots bound them all together.
        fetch = super()._fetch_and_process_jobs
        self.jobs.found_job.clear()
        # a task group: should one loop fail, the others are cancelled, not left running
        async with asyncio.TaskGroup() as loops:
            first = loops.create_task(fetch())  # type: ignore[no-untyped-call]
            found = loops.create_task(self.jobs.found_job.wait())
            await asyncio.wait((first, found), return_when=asyncio.FIRST_COMPLETED)
            if first.done():
                found.cancel()  # the queue was empty, or emptied by this one loop
            else:
                for _ in range(self.fetchers - 1):
                    loops.create_task(fetch())  # type: ignore[no-untyped-call]
