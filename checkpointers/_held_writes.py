"""Completed tasks' writes held back until the checkpoint that follows them.

LangGraph saves a finished task's writes (``put_writes``) and, once its superstep is over, the
next checkpoint (``put``): two commits per step. When a superstep has one task, which is every
step of a linear graph, the checkpoint follows its writes within a millisecond, and nothing
runs in between. Holding the writes (and the events that go with them) and sending them in the
checkpoint's own transaction makes a durable step one commit, with the same guarantee: after a
crash the task's writes and the checkpoint that applies them are both there, or neither is.

Held writes are never held for long: the next checkpoint of the thread, any unheld write of the
thread (an error or an interrupt of a sibling task) or, at the latest, a timer sends them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, LiteralString, cast

from psycopg import AsyncCursor

from checkpointers._arrays import register_array_dumpers
from checkpointers._batched import array_form, event_columns, row_columns
from checkpointers._leases import lease_errors
from checkpointers._models import NewEvent
from checkpointers._pool import AsyncPool
from checkpointers._queries import QUERIES

__all__ = ["HeldWrites", "TaskRows", "WriteHolder", "commit_held", "send_held"]

logger = logging.getLogger(__name__)

#: One statement executed for many rows: (query, parameter rows).
TaskRows = tuple[LiteralString, Sequence[Sequence[Any] | Mapping[str, Any]]]


@dataclass
class HeldWrites:
    """What a thread's finished tasks left to write: their rows and their events."""

    rows: list[TaskRows] = field(default_factory=list)
    events: list[NewEvent] = field(default_factory=list)
    timer: asyncio.TimerHandle | None = None

    def add(self, other: HeldWrites) -> None:
        """Append ``other``'s rows and events after this one's."""
        self.rows.extend(other.rows)
        self.events.extend(other.events)

    def __bool__(self) -> bool:
        return bool(self.rows or self.events)


async def send_held(
    cur: AsyncCursor[Any], fences: Sequence[tuple[str, int]], held: HeldWrites
) -> None:
    """Send the lease checks of ``fences`` ((thread ID, lease) pairs, in thread order), then
    ``held``'s rows and events, on ``cur``: in a pipeline or a transaction, they commit
    together or not at all (``held`` may gather several threads' writes)."""
    register_array_dumpers(cur)
    leases = dict(fences)
    with_events = {e.thread_id for e in held.events}
    # Runs are locked in thread order, as the run heartbeat locks them. With several threads
    # that takes a lease check of its own, first: rows fenced later in other statements (a
    # journal row, an effect claim) find their run locked already, whatever their order. One
    # thread alone has one run to lock: its events check the lease as they are inserted.
    upfront = len(leases) > 1 or any(thread_id not in with_events for thread_id in leases)
    if upfront:
        await cur.execute(
            QUERIES.check_leases,
            {"thread_ids": [f[0] for f in fences], "leases": [f[1] for f in fences]},
        )
    # one statement per query, whichever threads its rows belong to: a single execution
    # over arrays when the query has an array form, else one execution per row
    grouped: dict[LiteralString, list[Sequence[Any] | Mapping[str, Any]]] = {}
    for query, rows in held.rows:
        grouped.setdefault(query, []).extend(rows)
    for query, rows in grouped.items():
        form = array_form(query)
        if form is not None:
            await cur.execute(form.query, row_columns(form, cast(list[Sequence[Any]], rows)))
        else:
            await cur.executemany(query, rows)
    if held.events:
        columns = event_columns(held.events, None if upfront else leases)
        await cur.execute(QUERIES.batch_insert_events, columns)


async def commit_held(pool: AsyncPool, fence: tuple[str, int] | None, held: HeldWrites) -> None:
    """Commit ``held`` in one transaction of its own, fenced by ``fence`` (thread ID, lease)
    if given, as :func:`send_held` does.

    Raises:
        LeaseLost: the fence's lease is not the run's any more (nothing is written).
    """
    if not held:
        return
    with lease_errors():
        async with pool.connection() as conn, conn.pipeline(), conn.cursor() as cur:
            await send_held(cur, [fence] if fence is not None else [], held)


#: Writes held writes on their own (the timer's way out), given the thread and namespace.
Flush = Callable[[tuple[str, str], HeldWrites], Coroutine[Any, Any, None]]


class WriteHolder:
    """Holds task writes per (thread, checkpoint namespace) until taken or timed out.

    Args:
        seconds: how long writes may wait for the checkpoint that follows them.
        flush: writes what the timer releases (one transaction).
    """

    def __init__(self, seconds: float, flush: Flush) -> None:
        self.seconds = seconds
        self._flush = flush
        self._held: dict[tuple[str, str], HeldWrites] = {}
        self._flushing: set[asyncio.Task[None]] = set()

    def hold(self, key: tuple[str, str], writes: HeldWrites) -> None:
        """Keep ``writes`` for the thread's next checkpoint (starts the timer if needed)."""
        held = self._held.get(key)
        if held is None:
            held = self._held[key] = HeldWrites()
            held.timer = asyncio.get_running_loop().call_later(self.seconds, self._expire, key)
        held.add(writes)

    def take(self, key: tuple[str, str]) -> HeldWrites:
        """Remove and return what is held for ``key`` (nothing held: empty)."""
        held = self._held.pop(key, None)
        if held is None:
            return HeldWrites()
        if held.timer is not None:
            held.timer.cancel()
            held.timer = None
        return held

    async def flush(self, thread_id: str | None = None) -> None:
        """Write now what is held for ``thread_id`` (every thread if None).

        Timers' writes already in progress are not waited for: waiting on other threads'
        writes here made a run hang under load (seen with 50 threads at once).

        Raises:
            LeaseLost: the thread was taken over (what was held is dropped).
        """
        keys = [k for k in self._held if thread_id is None or k[0] == thread_id]
        for key in keys:
            held = self.take(key)
            if held:
                await self._flush(key, held)

    def _expire(self, key: tuple[str, str]) -> None:
        held = self.take(key)
        if not held:
            return
        task = asyncio.get_running_loop().create_task(self._write(key, held))
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    async def _write(self, key: tuple[str, str], held: HeldWrites) -> None:
        try:
            await self._flush(key, held)
        except Exception as exc:  # nobody awaits a timer: the task reruns after a restart
            logger.warning(
                "held task writes of thread %s could not be saved: %s",
                key[0],
                exc,
                extra={"thread_id": key[0], "checkpoint_ns": key[1]},
            )
