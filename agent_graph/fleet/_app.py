"""The Procrastinate app of the fleet: one queue, one task, on our own Postgres.

The app's connector opens its own psycopg pool, kept apart from the one langgraph's saver uses: a
pool built with ``autocommit=True`` connection kwargs breaks the worker's LISTEN connection, so
this one turns autocommit on as it configures each connection instead.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from procrastinate import App, JobContext, PsycopgConnector
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from checkpointers import check_if_suspect

__all__ = ["QUEUE", "TASK_NAME", "job_args", "make_app"]

logger = logging.getLogger(__name__)

#: Queue of the fleet's jobs (one job per thread run).
QUEUE = "agent_graph"
#: Name of the task that drives a thread (job args: ``thread_id``, ``keyword``).
TASK_NAME = "agent_graph.run_thread"

TaskBody = Callable[[JobContext, str, str], Awaitable[str]]


async def _autocommit(conn: AsyncConnection[Any]) -> None:
    # Each of Procrastinate's statements stands alone (a stored function call), yet on a plain
    # connection psycopg wraps it in BEGIN ... COMMIT: three round trips (a job's fetch, its
    # finish) instead of one. Set here, not in the pool's kwargs, which the LISTEN connection
    # reuses alongside an autocommit argument of its own.
    await conn.set_autocommit(True)


def _queue_pool(**kwargs: Any) -> AsyncConnectionPool[Any]:
    # Procrastinate's own pool checks each connection with a round trip before every
    # statement (a job's fetch, its finish): the socket poll of check_if_suspect replaces it.
    kwargs["check"] = check_if_suspect
    return AsyncConnectionPool(**kwargs)


def make_app(dsn: str, body: TaskBody | None = None, *, pool_size: int = 4) -> App:
    """Build the (unopened) Procrastinate app over ``dsn``.

    Args:
        dsn: Postgres connection string (what :func:`checkpointers.resolve_dsn` returns).
        body: the task body run by workers (None for clients that only enqueue or inspect).
        pool_size: most connections of the queue's own pool.
    """
    connector = PsycopgConnector(
        conninfo=dsn,
        min_size=1,
        max_size=max(2, pool_size),
        configure=_autocommit,
        pool_factory=_queue_pool,
    )
    app = App(connector=connector)
    if body is not None:

        async def run_thread(context: JobContext, thread_id: str, keyword: str) -> str:
            return await body(context, thread_id, keyword)

        app.task(name=TASK_NAME, queue=QUEUE, pass_context=True)(run_thread)
    return app


def job_args(thread_id: str, keyword: str) -> dict[str, Any]:
    """The job arguments of one thread run."""
    return {"thread_id": thread_id, "keyword": keyword}
