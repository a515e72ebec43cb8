"""Group commit: the checkpoint writes of many threads in one transaction.

With hundreds of threads in flight, checkpoints arrive faster than one connection commits
them one by one. Each commit costs a round trip, a WAL flush and the server's per-transaction
work, and each takes a pool connection. :class:`GroupCommitter` queues the writes that
arrive while a commit is in flight and sends them all in the next transaction: one round
trip and one commit for many node-steps, and no waiting at all when the process is quiet
(a write that finds nothing in flight is sent at once, alone).

Sharing a transaction must not make one thread's failure another's: when a shared
transaction fails (a lease taken over, a constraint), each of its writes is sent again in a
transaction of its own, and only the ones that fail alone get the error.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, LiteralString

from checkpointers._held_writes import HeldWrites, send_held
from checkpointers._leases import lease_errors
from checkpointers._pool import AsyncPool
from checkpointers._queries import QUERIES

__all__ = ["Fetch", "GroupCommitter"]

#: A statement whose first row the caller wants back, with its parameters.
Fetch = tuple[LiteralString, Mapping[str, Any]]

logger = logging.getLogger(__name__)


@dataclass
class _Pending:
    fence: tuple[str, int] | None
    held: HeldWrites
    done: asyncio.Future[dict[str, Any] | None]
    queued_at: float
    thread_id: str
    fetch: Fetch | None = None
    self_fenced: bool = False
    row: dict[str, Any] | None = None

    def settle(self, error: BaseException | None = None) -> None:
        if self.done.done():  # the caller was cancelled: nobody waits any more
            return
        if error is None:
            self.done.set_result(self.row)
        else:
            self.done.set_exception(error)


class GroupCommitter:
    """Commits fenced writes (see :func:`send_held`) of many threads in shared transactions.

    One transaction is in flight at a time while they are quick; another starts when a full
    batch is waiting or when the oldest waiting write has waited ``patience`` seconds (a
    transaction held up by a lock in the database must not hold up every other thread). A
    shared transaction waits at most ``lock_timeout`` for a lock before its writes are sent
    one by one.

    Args:
        pool: where the transactions run (one connection per transaction in flight).
        max_batch: most writes in one transaction.
        max_in_flight: most transactions in flight at once.
        patience: see above, in seconds.
        lock_timeout: see above, in seconds.
    """

    def __init__(
        self,
        pool: AsyncPool,
        *,
        max_batch: int = 64,
        max_in_flight: int = 4,
        patience: float = 0.02,
        lock_timeout: float = 0.5,
    ) -> None:
        if max_batch < 1 or max_in_flight < 1:
            raise ValueError("GroupCommitter needs max_batch >= 1 and max_in_flight >= 1")
        self._pool = pool
        self._max_batch = max_batch
        self._max_in_flight = max_in_flight
        self._patience = patience
        self._lock_timeout = f"{round(lock_timeout * 1000)}ms"  # a setting's text
        self._queue: list[_Pending] = []
        self._senders: set[asyncio.Task[None]] = set()
        self._check: asyncio.TimerHandle | None = None

    async def commit(
        self,
        fence: tuple[str, int] | None,
        held: HeldWrites,
        *,
        thread_id: str | None = None,
        fetch: Fetch | None = None,
        self_fenced: bool = False,
    ) -> dict[str, Any] | None:
        """Commit ``held`` (after the lease check ``fence``, if any) in a transaction that may
        also carry other threads' writes; return once it is committed.

        ``thread_id`` names the thread whose run row ``held`` locks when there is no fence.
        ``fetch`` is a statement run after ``held`` in the same transaction; its first row (or
        None) is returned once committed. ``self_fenced``: the statements of ``held`` and
        ``fetch`` check the lease themselves; ``fence`` then only has a shared transaction lock
        the run in thread order with the other threads' (sent alone, it is not checked twice).

        Raises:
            LeaseLost: the fence's lease is not the run's any more (nothing is written).
            psycopg.Error: the writes failed on their own (nothing is written).
        """
        if not held and fence is None and fetch is None:
            return None
        loop = asyncio.get_running_loop()
        done: asyncio.Future[dict[str, Any] | None] = loop.create_future()
        if thread_id is None:
            thread_id = fence[0] if fence is not None else ""
        self._queue.append(_Pending(fence, held, done, loop.time(), thread_id, fetch, self_fenced))
        if not self._senders or len(self._queue) >= self._max_batch:
            self._start_sender()
        elif self._check is None:
            self._check = loop.call_later(self._patience, self._check_waiting)
        return await done

    def _start_sender(self) -> None:
        if len(self._senders) >= self._max_in_flight:
            return
        sender = asyncio.get_running_loop().create_task(self._send_queued())
        self._senders.add(sender)
        sender.add_done_callback(self._senders.discard)

    def _check_waiting(self) -> None:
        self._check = None
        if not self._queue:
            return
        loop = asyncio.get_running_loop()
        waited = loop.time() - self._queue[0].queued_at
        if waited >= self._patience:
            self._start_sender()
            waited = 0.0
        self._check = loop.call_later(self._patience - waited, self._check_waiting)

    async def _send_queued(self) -> None:
        while self._queue:
            batch = self._queue[: self._max_batch]
            del self._queue[: self._max_batch]
            try:
                await self._send(batch)
            except BaseException as exc:  # cancelled at shutdown: nobody is left hanging
                for pending in batch:
                    pending.settle(exc)
                raise

    async def _send(self, batch: list[_Pending]) -> None:
        # Rows are locked in thread order (each fence takes its run's row FOR SHARE), as the
        # run heartbeat's UPDATE locks them: two shared transactions cannot deadlock.
        batch.sort(key=lambda p: p.thread_id)
        try:
            await self._transaction(batch)
        except Exception as exc:
            if len(batch) == 1:
                batch[0].settle(exc)
                return
            logger.debug(
                "shared checkpoint transaction failed, writing its %d threads one by one: %s",
                len(batch),
                exc,
                extra={"threads": len(batch)},
            )
            # at once, not one after the other: a write still held up must not hold up the rest
            await asyncio.gather(*(self._alone(pending) for pending in batch))
            return
        for pending in batch:
            pending.settle()

    async def _alone(self, pending: _Pending) -> None:
        try:
            await self._transaction([pending])
        except Exception as exc:
            pending.settle(exc)
        else:
            pending.settle()

    async def _transaction(self, batch: list[_Pending]) -> None:
        # one pipeline: the statements before its sync are one implicit transaction
        with lease_errors():
            async with (
                self._pool.connection() as conn,
                conn.pipeline(),
                conn.cursor(binary=True) as cur,
            ):
                if len(batch) > 1:
                    await cur.execute(QUERIES.set_local_lock_timeout, {"ms": self._lock_timeout})
                held = HeldWrites()
                for pending in batch:
                    held.add(pending.held)
                fences = [
                    p.fence
                    for p in batch
                    if p.fence is not None and (len(batch) > 1 or not p.self_fenced)
                ]
                await send_held(cur, fences, held)
                # one cursor each, all sent before the first fetch: one round trip for them all
                fetching = []
                for pending in batch:
                    if pending.fetch is not None:
                        fetch_cur = conn.cursor(binary=True)
                        await fetch_cur.execute(*pending.fetch)
                        fetching.append((pending, fetch_cur))
                for pending, fetch_cur in fetching:
                    pending.row = await fetch_cur.fetchone()
                    await fetch_cur.close()
