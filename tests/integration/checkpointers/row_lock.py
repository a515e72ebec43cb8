"""A row lock held on a task write, to hold up one thread's writes in the database."""

from __future__ import annotations

import psycopg


class RowLock:
    """An uncommitted ``checkpoint_writes`` row of thread ``slow`` (checkpoint ``c1``, task
    ``task``, channel ``x``, index 0): a write of the same key waits for :meth:`release`."""

    def __init__(self, conn: psycopg.AsyncConnection[object]) -> None:
        self._conn = conn

    async def release(self) -> None:
        """Roll the row back: the waiting write goes on."""
        if not self._conn.closed:
            await self._conn.rollback()
            await self._conn.close()
