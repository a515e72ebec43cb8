"""What a worker runs for one job: drive one thread to its end, or hand it back.

A job carries ``thread_id`` and ``keyword``. The driver starts the thread (or resumes it when it
exists unfinished) on the graph opened once per worker process, and:

- hands the thread back (defers a follow-up job with the same lock) when the worker drains on
  SIGTERM and the run stopped at a node boundary, or when another live process drives it;
- dead-letters a thread whose runs keep killing their worker (poison pill): once it has been
  recovered ``max_recoveries`` times and crashed again, it is not run any more.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from procrastinate import App, JobContext
from procrastinate.exceptions import AlreadyEnqueued

from checkpointers import LeaseLost, RunRecord
from policies import Classification
from policies._errors import ConfigurationError

from .._errors import ThreadBusy, ThreadUnfinished
from .._factory import article_request, open_content_agent
from .._settings import Settings
from ..runtime import Runner, ThreadStatus
from ..runtime._context import owner_is_alive
from ..runtime._failure import FailureReport
from ._app import TASK_NAME, job_args

__all__ = ["FleetGraph", "GraphFactory", "ThreadDriver", "load_graph_factory", "open_content_graph"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FleetGraph:
    """A durable graph as the fleet runs it.

    Args:
        runner: the runner of the compiled durable graph (opened once per worker process).
        make_input: the graph input of a submitted keyword.
    """

    runner: Runner
    make_input: Callable[[str], Any]


#: Opens the graph of a worker process from the settings (``module:function`` on the CLI).
GraphFactory = Callable[[Settings], AbstractAsyncContextManager[FleetGraph]]


@contextlib.asynccontextmanager
async def open_content_graph(settings: Settings) -> AsyncIterator[FleetGraph]:
    """The content agent (the default graph of the fleet): one article per keyword."""
    async with open_content_agent(settings) as agent:
        yield FleetGraph(agent.runner, article_request)


def load_graph_factory(path: str) -> GraphFactory:
    """Import a :data:`GraphFactory` named ``package.module:function``.

    Raises:
        ConfigurationError: the path is malformed or names nothing callable.
    """
    module_name, _, attr = path.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigurationError(
            f"cannot load graph factory {path!r}: {exc}",
            hint="give it as package.module:function, importable by the worker",
        ) from None
    if not callable(factory):
        raise ConfigurationError(f"graph factory {path!r} is not callable")
    result: GraphFactory = factory
    return result


@dataclass
class ThreadDriver:
    """The body of the fleet's task, bound to one worker process.

    Args:
        graph: the graph, opened once for the whole process.
        max_recoveries: crash recoveries of a thread before it is dead-lettered.
        busy_delay: seconds before retrying a thread another live process drives.
    """

    graph: FleetGraph
    max_recoveries: int = 3
    busy_delay: float = 2.0
    app: App | None = None
    in_flight: set[str] = field(default_factory=set)
    lost_jobs: set[int] = field(default_factory=set)
    """Jobs whose thread another worker took over (see :class:`FleetJobs`)."""

    @property
    def runner(self) -> Runner:
        """The runner of the worker's graph."""
        return self.graph.runner

    async def __call__(self, context: JobContext, thread_id: str, keyword: str) -> str:
        """Drive ``thread_id`` as far as it goes; return the outcome (a thread status, or
        ``handed_back``)."""
        ctx = self.runner.ctx
        if ctx.stop_requested:
            await self.hand_back(thread_id, keyword)
            return "handed_back"
        self.in_flight.add(thread_id)
        try:
            outcome = await self._drive(thread_id, keyword)
            if outcome == "lease_lost" and context.job.id is not None:
                self.lost_jobs.add(context.job.id)
            return outcome
        except asyncio.CancelledError:
            # cancelled by the worker after the drain's grace period: the node in flight is
            # lost (it reruns, as after a crash) but the thread goes back to the queue
            await asyncio.shield(self.hand_back(thread_id, keyword))
            raise
        finally:
            self.in_flight.discard(thread_id)

    async def _drive(self, thread_id: str, keyword: str) -> str:
        graph_input = self.graph.make_input(keyword)
        try:
            # the usual job, a thread never run: created, claimed and started in one statement
            status = await self.runner.start_new(thread_id, graph_input, describe=False)
        except LeaseLost:
            return "lease_lost"
        if status is None:
            return await self._drive_existing(thread_id, keyword, graph_input)
        return await self._settle(thread_id, keyword, status, None)

    async def _drive_existing(self, thread_id: str, keyword: str, graph_input: Any) -> str:
        ctx = self.runner.ctx
        run = await ctx.runs.get(thread_id)
        if run is not None and run.status == "dead_lettered":
            return "dead_lettered"
        if (
            run is not None
            and run.status == "running"
            and run.owner != ctx.owner
            and not owner_is_alive(run.owner)
            and run.recoveries >= self.max_recoveries
        ):
            await self._dead_letter(thread_id, run.recoveries, run.owner)
            return "dead_lettered"
        try:
            try:
                status = await self.runner.start(
                    thread_id, graph_input, describe=False, try_new=False
                )
            except ThreadUnfinished:
                # The queue hands a thread to one job at a time: if it gave it to this one,
                # the process recorded as its driver is gone or frozen, even when its PID is
                # alive. Taking over revokes that driver's lease (fencing its writes).
                status = await self.runner.resume(thread_id, takeover=True, describe=False)
        except LeaseLost:
            # this worker was frozen and the thread was handed to another: drop it silently
            return "lease_lost"
        except ThreadBusy as exc:
            logger.info(
                "thread %s is driven by %s; retrying later",
                thread_id,
                exc.owner,
                extra={"thread_id": thread_id, "owner": exc.owner},
            )
            await self.hand_back(thread_id, keyword, delay=self.busy_delay)
            return "handed_back"
        return await self._settle(thread_id, keyword, status, run)

    async def _settle(
        self, thread_id: str, keyword: str, status: ThreadStatus, run: RunRecord | None
    ) -> str:
        """The job's outcome, once the runner returned ``status`` (``run``: the thread's run
        as it was before, None for a new thread)."""
        ctx = self.runner.ctx
        if status.status == "incomplete" and ctx.stop_requested:
            await self.hand_back(thread_id, keyword)
            return "handed_back"
        if status.status == "completed" and run is not None and run.status == "running":
            # the previous owner died after the last checkpoint, before recording the end:
            # the runner returns at once without touching the registry, so close the run here
            await ctx.runs.set_status(thread_id, "completed")
        return status.status

    async def _dead_letter(self, thread_id: str, recoveries: int, owner: str | None) -> None:
        message = f"the thread crashed its worker {recoveries + 1} times (last: {owner})"
        classification = Classification(
            kind="fatal", reason="crash_loop", error_type="WorkerCrash", message=message
        )
        await self.runner.dead_letter(
            thread_id,
            FailureReport(
                node=None,
                task_id=None,
                kind="crash_loop",
                classification=classification,
                attempts=recoveries + 1,
                first_failure_at=None,
                last_failure_at=datetime.now(UTC),
            ),
        )
        logger.warning(
            "thread %s dead-lettered after %d crash recoveries",
            thread_id,
            recoveries,
            extra={"thread_id": thread_id, "recoveries": recoveries},
        )

    async def hand_back(self, thread_id: str, keyword: str, *, delay: float = 0.0) -> None:
        """Queue a follow-up job for the thread (any worker may take it once this job ends).

        The follow-up has the same lock, so it cannot start before the current job finishes;
        if the thread already has a queued job, that one serves.
        """
        assert self.app is not None, "ThreadDriver.app is set by the worker"
        options: dict[str, Any] = {"lock": thread_id, "queueing_lock": thread_id}
        if delay > 0:
            options["schedule_in"] = {"seconds": delay}
        deferrer = self.app.configure_task(TASK_NAME, **options)
        with contextlib.suppress(AlreadyEnqueued):
            await deferrer.defer_async(**job_args(thread_id, keyword))
        logger.info("thread %s handed back", thread_id, extra={"thread_id": thread_id})
