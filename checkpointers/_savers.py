"""langgraph Postgres savers over our pools, with an optional hook before each commit."""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
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
from psycopg import AsyncConnection, AsyncCursor
from psycopg.rows import DictRow
from psycopg_pool import AsyncConnectionPool

from checkpointers._held_writes import HeldWrites, WriteHolder, send_held
from checkpointers._leases import Leases, lease_errors
from checkpointers._migrate import setup_database, setup_database_sync
from checkpointers._pool import AsyncPool, open_async_pool, open_pool

__all__ = [
    "BeforeCommit",
    "ExtrasForTask",
    "HookedAsyncPostgresSaver",
    "make_async_saver",
    "open_async_saver",
    "open_saver",
]

#: Returns the rows and events to commit together with a task's writes, given the task ID.
ExtrasForTask: TypeAlias = Callable[[str], HeldWrites]

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


@dataclasses.dataclass(frozen=True)
class _Prefix:
    """What goes first in the pipeline of the checkpoint write in progress."""

    fence: tuple[str, int] | None
    held: HeldWrites


_PREFIX: contextvars.ContextVar[_Prefix | None] = contextvars.ContextVar(
    "agent_graph_checkpoint_prefix", default=None
)


def _key(config: RunnableConfig) -> tuple[str, str]:
    configurable = config["configurable"]
    return str(configurable["thread_id"]), str(configurable.get("checkpoint_ns", ""))


class HookedAsyncPostgresSaver(AsyncPostgresSaver):
    """``AsyncPostgresSaver`` that awaits ``before_commit(op, config)`` at the start of
    ``aput`` (op ``"put"``) and ``aput_writes`` (op ``"put_writes"``), commits a task's
    events with its writes, fences both with the thread's lease, and can save a task's writes
    in the transaction of the checkpoint that follows them.

    The hook may raise (or kill the process) to simulate a crash before the checkpoint commit.

    Args:
        conn: the pool (or one connection) checkpoints are written through.
        before_commit: see above.
        serde: checkpoint serializer (langgraph's default when None).
        extras_for_task: the rows (e.g. an effect's record) and events (e.g. the task's
            completion) to commit with a task's writes, given its task ID.
        leases: the leases this process holds: a checkpoint or pending writes of a thread held
            there are written only while the lease is the run's, checked in the same
            transaction (:class:`LeaseLost` otherwise, and nothing is written).
        hold_writes: if set, a finished task's writes (and events) wait up to this many
            seconds for the thread's next checkpoint and are committed with it: one commit
            per step instead of two (see :mod:`checkpointers._held_writes`). Errors and
            interrupts are never held. Call :meth:`aflush` before reading pending writes of a
            superstep that ended without a checkpoint.
    """

    def __init__(
        self,
        conn: AsyncPool | AsyncConnection[DictRow],
        *,
        before_commit: BeforeCommit | None = None,
        serde: SerializerProtocol | None = None,
        extras_for_task: ExtrasForTask | None = None,
        leases: Leases | None = None,
        hold_writes: float | None = None,
    ) -> None:
        super().__init__(conn, serde=serde)
        if isinstance(conn, AsyncConnectionPool):
            # each call draws its own connection: stock's instance-wide lock would only make
            # the pool's connections wait for one another (one query at a time per process)
            self.lock = _NoLock()
        self.before_commit = before_commit
        self.extras_for_task = extras_for_task
        self.leases = leases
        self._holder = WriteHolder(hold_writes, self._write_held) if hold_writes else None

    async def aflush(self, thread_id: str | None = None) -> None:
        """Commit the task writes held for ``thread_id`` (every thread if None) now.

        Raises:
            LeaseLost: the thread was taken over (its held writes are dropped).
        """
        if self._holder is not None:
            await self._holder.flush(thread_id)

    @asynccontextmanager
    async def _cursor(self, *, pipeline: bool = False) -> AsyncIterator[AsyncCursor[DictRow]]:
        # Stock opens one pipeline per checkpoint write: the fence and the held rows go first
        # in it, so they and the checkpoint are one transaction (an error skips the rest).
        prefix = _PREFIX.get() if pipeline else None
        async with super()._cursor(pipeline=pipeline) as cur:
            if prefix is not None:
                await send_held(cur, prefix.fence, prefix.held)
            yield cur

    @contextmanager
    def _sending(self, thread_id: str, held: HeldWrites) -> Iterator[None]:
        lease = self.leases.of(thread_id) if self.leases is not None else None
        fence = None if lease is None else (thread_id, lease)
        token = _PREFIX.set(_Prefix(fence, held))
        try:
            with lease_errors():
                yield
        finally:
            _PREFIX.reset(token)

    async def _before(self, op: Literal["put", "put_writes"], config: RunnableConfig) -> None:
        if self.before_commit is not None:
            result = self.before_commit(op, config)
            if inspect.isawaitable(result):
                await result

    def _take_held(self, key: tuple[str, str]) -> HeldWrites:
        return self._holder.take(key) if self._holder is not None else HeldWrites()

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        await self._before("put", config)
        key = _key(config)
        with self._sending(key[0], self._take_held(key)):
            return await super().aput(config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        await self._before("put_writes", config)
        special = all(w[0] in WRITES_IDX_MAP for w in writes)
        query = self.UPSERT_CHECKPOINT_WRITES_SQL if special else self.INSERT_CHECKPOINT_WRITES_SQL
        configurable = config["configurable"]
        rows = self._dump_writes(
            configurable["thread_id"],
            configurable["checkpoint_ns"],
            configurable["checkpoint_id"],
            task_id,
            task_path,
            writes,
        )
        # the task's own rows first, then what the task deferred (effect records, events)
        task = HeldWrites([(query, rows)])
        if self.extras_for_task is not None:
            task.add(self.extras_for_task(task_id))
        key = _key(config)
        if self._holder is not None and not any(w[0] in WRITES_IDX_MAP for w in writes):
            self._holder.hold(key, task)
            return
        # An error, an interrupt...: written at once, with whatever the thread had held, so
        # that the superstep's finished siblings are saved before the run stops.
        held = self._take_held(key)
        held.add(task)
        await self._write_held(key, held)

    async def _write_held(self, key: tuple[str, str], held: HeldWrites) -> None:
        # One pipeline, as stock sends its writes: the statements before the pipeline's sync
        # form one implicit transaction, so the events commit with the writes or not at all.
        with self._sending(key[0], held):
            async with self._cursor(pipeline=True):
                pass


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
    return HookedAsyncPostgresSaver(pool, before_commit=before_commit, serde=serde)


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
