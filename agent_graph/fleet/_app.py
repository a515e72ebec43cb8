"""The Procrastinate app of the fleet: one queue, one task, on our own Postgres.

The app's connector opens its own psycopg pool with Procrastinate's defaults: a pool built with
``autocommit=True`` connection kwargs (like the one langgraph's saver needs) breaks the worker's
LISTEN connection, so the two pools are kept apart.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from procrastinate import App, JobContext, PsycopgConnector

__all__ = ["QUEUE", "TASK_NAME", "make_app"]

#: Queue of the fleet's jobs (one job per thread run).
QUEUE = "agent_graph"
#: Name of the task that drives a thread (job args: ``thread_id``, ``keyword``).
TASK_NAME = "agent_graph.run_thread"

TaskBody = Callable[[JobContext, str, str], Awaitable[str]]


def make_app(dsn: str, body: TaskBody | None = None, *, pool_size: int = 4) -> App:
    """Build the (unopened) Procrastinate app over ``dsn``.

    Args:
        dsn: Postgres connection string (what :func:`checkpointers.resolve_dsn` returns).
        body: the task body run by workers (None for clients that only enqueue or inspect).
        pool_size: most connections of the queue's own pool.
    """
    connector = PsycopgConnector(conninfo=dsn, min_size=1, max_size=max(2, pool_size))
    app = App(connector=connector)
    if body is not None:

        async def run_thread(context: JobContext, thread_id: str, keyword: str) -> str:
            return await body(context, thread_id, keyword)

        app.task(name=TASK_NAME, queue=QUEUE, pass_context=True)(run_thread)
    return app


def job_args(thread_id: str, keyword: str) -> dict[str, Any]:
    """The job arguments of one thread run."""
    return {"thread_id": thread_id, "keyword": keyword}
