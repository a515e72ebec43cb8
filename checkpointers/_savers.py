"""langgraph Postgres savers over our pools, with an optional hook before each commit."""

from __future__ import annotations

import asyncio
import inspect
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any, Literal, TypeAlias

import orjson
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    get_serializable_checkpoint_metadata,
)
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.serde.base import SerializerProtocol
from langgraph.checkpoint.serde.types import _DeltaSnapshot
from psycopg.types.json import Jsonb

from checkpointers._group_commit import GroupCommitter
from checkpointers._held_writes import HeldWrites, WriteHolder
from checkpointers._leases import Leases
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


def _key(config: RunnableConfig) -> tuple[str, str]:
    configurable = config["configurable"]
    return str(configurable["thread_id"]), str(configurable.get("checkpoint_ns", ""))


def _inline(value: Any) -> bool:
    # what stock keeps in the checkpoint's JSON instead of a blob row
    return value is None or isinstance(value, (str, int, float, bool))


def _checkpoint_json(checkpoint: Checkpoint, inline: dict[str, Any]) -> Jsonb:
    """The checkpoint's JSON, with ``inline`` as its channel values, as stock writes it.

    orjson encodes a checkpoint (kilobytes of channel versions) about ten times faster than
    json. Where the two would differ, json is used, as in stock: a non-finite float (orjson
    writes null where json writes NaN, which the server refuses) or what orjson refuses
    (integers over 64 bits, keys that are not strings).
    """
    value = {**checkpoint, "channel_values": inline}
    if any(isinstance(v, float) and not math.isfinite(v) for v in inline.values()):
        return Jsonb(value)
    try:
        encoded = orjson.dumps(value)  # now, not when sent: a refusal falls back here
    except orjson.JSONEncodeError:
        return Jsonb(value)
    return Jsonb(encoded, dumps=_as_is)


def _as_is(encoded: bytes) -> bytes:
    return encoded


class HookedAsyncPostgresSaver(AsyncPostgresSaver):
    """``AsyncPostgresSaver`` that awaits ``before_commit(op, config)`` at the start of
    ``aput`` (op ``"put"``) and ``aput_writes`` (op ``"put_writes"``), commits a task's
    events with its writes, fences both with the thread's lease, can save a task's writes in
    the transaction of the checkpoint that follows them, and commits the checkpoints of
    concurrent threads together (:class:`~checkpointers._group_commit.GroupCommitter`).

    The hook may raise (or kill the process) to simulate a crash before the checkpoint commit.
    The tables and rows are stock's: stock savers read what this one writes.

    Args:
        conn: the pool checkpoints are written through.
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
        max_batch: most threads' checkpoints committed in one transaction (1: one each).
        committer: commits the checkpoints, in transactions shared with whatever else it
            commits (e.g. effect claims and LLM answers); a new one of ``max_batch`` if None.
    """

    def __init__(
        self,
        conn: AsyncPool,
        *,
        before_commit: BeforeCommit | None = None,
        serde: SerializerProtocol | None = None,
        extras_for_task: ExtrasForTask | None = None,
        leases: Leases | None = None,
        hold_writes: float | None = None,
        max_batch: int = 64,
        committer: GroupCommitter | None = None,
    ) -> None:
        super().__init__(conn, serde=serde)
        # each call draws its own connection: stock's instance-wide lock would only make
        # the pool's connections wait for one another (one query at a time per process)
        self.lock = _NoLock()
        self.before_commit = before_commit
        self.extras_for_task = extras_for_task
        self.leases = leases
        self._holder = WriteHolder(hold_writes, self._write_held) if hold_writes else None
        self._committer = committer or GroupCommitter(conn, max_batch=max_batch)
        self._known_new: set[str] = set()

    def known_new(self, thread_id: str) -> None:
        """Note that ``thread_id`` has no checkpoint, as its caller just made sure in the
        transaction that gave it the thread: the next read of its latest root checkpoint
        (LangGraph's, as a run begins) answers None without asking the database."""
        self._known_new.add(thread_id)

    def forget_new(self, thread_id: str) -> None:
        """Undo :meth:`known_new` (the run that was to begin ended first)."""
        self._known_new.discard(thread_id)

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """Stock's read, except for a thread noted by :meth:`known_new` (read once)."""
        configurable = config["configurable"]
        thread_id = str(configurable["thread_id"])
        if (
            thread_id in self._known_new
            and not configurable.get("checkpoint_ns")
            and not configurable.get("checkpoint_id")
        ):
            self._known_new.discard(thread_id)
            return None
        return await super().aget_tuple(config)

    async def aflush(self, thread_id: str | None = None) -> None:
        """Commit the task writes held for ``thread_id`` (every thread if None) now.

        Raises:
            LeaseLost: the thread was taken over (its held writes are dropped).
        """
        if self._holder is not None:
            await self._holder.flush(thread_id)

    def _fence(self, thread_id: str) -> tuple[str, int] | None:
        lease = self.leases.of(thread_id) if self.leases is not None else None
        return None if lease is None else (thread_id, lease)

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
        thread_id, checkpoint_ns = key = _key(config)
        self._known_new.discard(thread_id)
        values = checkpoint["channel_values"]
        # Stock's layout: primitive channel values inline in the checkpoint's JSON, the others
        # (delta snapshots marked True inline) in blob rows of their new versions.
        inline = {k: v for k, v in values.items() if _inline(v)}
        inline.update((k, True) for k, v in values.items() if isinstance(v, _DeltaSnapshot))
        blobs = {k: v for k, v in values.items() if not _inline(v)}
        blob_versions = {k: v for k, v in new_versions.items() if k in blobs}
        row = (
            thread_id,
            checkpoint_ns,
            checkpoint["id"],
            config["configurable"].get("checkpoint_id"),
            _checkpoint_json(checkpoint, inline),
            Jsonb(get_serializable_checkpoint_metadata(config, metadata)),
        )
        held = self._take_held(key)
        if blob_versions:
            blob_rows = self._dump_blobs(thread_id, checkpoint_ns, blobs, blob_versions)
            held.rows.append((self.UPSERT_CHECKPOINT_BLOBS_SQL, blob_rows))
        held.rows.append((self.UPSERT_CHECKPOINTS_SQL, [row]))
        await self._commit(thread_id, held)
        return {
            "configurable": {
                "thread_id": thread_id,
                "checkpoint_ns": checkpoint_ns,
                "checkpoint_id": checkpoint["id"],
            }
        }

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
        await self._commit(key[0], held)

    async def _commit(self, thread_id: str, held: HeldWrites) -> None:
        # the thread's lease is checked first, in the same transaction (see send_held)
        await self._committer.commit(self._fence(thread_id), held)


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
