"""langgraph Postgres savers over our pools, with an optional hook before each commit."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any, Literal, TypeAlias

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
)
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.serde.base import SerializerProtocol
from psycopg import AsyncConnection
from psycopg.rows import DictRow

from checkpointers._events import event_params
from checkpointers._migrate import setup_database, setup_database_sync
from checkpointers._models import NewEvent
from checkpointers._pool import AsyncPool, open_async_pool, open_pool
from checkpointers._queries import QUERIES

__all__ = [
    "BeforeCommit",
    "EventsForTask",
    "HookedAsyncPostgresSaver",
    "make_async_saver",
    "open_async_saver",
    "open_saver",
]

#: Returns the events to commit together with a task's writes, given the task ID.
EventsForTask: TypeAlias = Callable[[str], Sequence[NewEvent]]

#: Called with ``"put"`` or ``"put_writes"`` and the config before a checkpoint write is sent.
BeforeCommit: TypeAlias = Callable[
    [Literal["put", "put_writes"], RunnableConfig], Awaitable[None] | None
]


class _NoLock(asyncio.Lock):
    """Stands in for the saver-wide lock when the saver draws from a pool.

    Stock ``AsyncPostgresSaver`` serializes every query of the instance behind one lock, which
    a single shared connection needs but a pool does not: each call gets its own connection.
    """

    async def acquire(self) -> Literal[True]:
        return True

    def release(self) -> None:
        return None


class HookedAsyncPostgresSaver(AsyncPostgresSaver):
    """``AsyncPostgresSaver`` that awaits ``before_commit(op, config)`` at the start of
    ``aput`` (op ``"put"``) and ``aput_writes`` (op ``"put_writes"``).

    The hook may raise (or kill the process) to simulate a crash before the checkpoint commit.
    """

    def __init__(
        self,
        conn: AsyncPool | AsyncConnection[DictRow],
        *,
        before_commit: BeforeCommit | None = None,
        serde: SerializerProtocol | None = None,
        events_for_task: EventsForTask | None = None,
    ) -> None:
        super().__init__(conn, serde=serde)
        self.before_commit = before_commit
        self.events_for_task = events_for_task

    async def _before(self, op: Literal["put", "put_writes"], config: RunnableConfig) -> None:
        if self.before_commit is not None:
            result = self.before_commit(op, config)
            if inspect.isawaitable(result):
                await result

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        await self._before("put", config)
        return await super().aput(config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        await self._before("put_writes", config)
        events = self.events_for_task(task_id) if self.events_for_task is not None else ()
        if not events:
            await super().aput_writes(config, writes, task_id, task_path)
            return
        # The task's writes and its events (e.g. "node_completed") commit together: after a
        # crash either both are there (the task is not run again) or neither is.
        query = (
            self.UPSERT_CHECKPOINT_WRITES_SQL
            if all(w[0] in WRITES_IDX_MAP for w in writes)
            else self.INSERT_CHECKPOINT_WRITES_SQL
        )
        configurable = config["configurable"]
        params = self._dump_writes(
            configurable["thread_id"],
            configurable["checkpoint_ns"],
            configurable["checkpoint_id"],
            task_id,
            task_path,
            writes,
        )
        # One pipeline, as stock sends its writes: the statements before the pipeline's sync
        # form one implicit transaction, so the events commit with the writes or not at all.
        async with self._cursor(pipeline=True) as cur:
            await cur.executemany(query, params)
            await cur.executemany(QUERIES.insert_event, [event_params(e) for e in events])


def make_async_saver(
    pool: AsyncPool,
    *,
    before_commit: BeforeCommit | None = None,
    serde: SerializerProtocol | None = None,
) -> AsyncPostgresSaver:
    """An ``AsyncPostgresSaver`` over ``pool`` whose calls run concurrently (one connection
    each) instead of one at a time. Must be called inside a running event loop.

    Args:
        pool: a pool from :func:`open_async_pool` (database set up with :func:`setup_database`).
        before_commit: optional hook, see :class:`HookedAsyncPostgresSaver`.
        serde: checkpoint serializer (langgraph's default when None).
    """
    saver = HookedAsyncPostgresSaver(pool, before_commit=before_commit, serde=serde)
    saver.lock = _NoLock()
    return saver


@asynccontextmanager
async def open_async_saver(
    dsn: str,
    *,
    setup: bool = True,
    max_size: int = 10,
    before_commit: BeforeCommit | None = None,
) -> AsyncIterator[AsyncPostgresSaver]:
    """Open a pool over ``dsn`` and yield a saver from :func:`make_async_saver`.

    Args:
        dsn: connection string (see :func:`resolve_dsn`).
        setup: run :func:`setup_database` first (idempotent, concurrency-safe).
        max_size: pool size.
        before_commit: optional hook, see :class:`HookedAsyncPostgresSaver`.

    Raises:
        DatabaseUnavailable: the server did not answer.
        MigrationError: the schema could not be set up.
    """
    async with open_async_pool(dsn, max_size=max_size) as pool:
        if setup:
            await setup_database(pool)
        yield make_async_saver(pool, before_commit=before_commit)


@contextmanager
def open_saver(dsn: str, *, setup: bool = True, max_size: int = 10) -> Iterator[PostgresSaver]:
    """Synchronous counterpart of :func:`open_async_saver`, yielding a stock ``PostgresSaver``
    over a :class:`~psycopg_pool.ConnectionPool`.

    Raises:
        DatabaseUnavailable: the server did not answer.
        MigrationError: the schema could not be set up.
    """
    if setup:
        setup_database_sync(dsn)
    with open_pool(dsn, max_size=max_size) as pool:
        yield PostgresSaver(pool)
