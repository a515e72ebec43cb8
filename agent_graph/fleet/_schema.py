"""One idempotent, race-safe schema step: our tables, langgraph's checkpoints, Procrastinate's.

Procrastinate's ``schema --apply`` is not idempotent (a second run fails on existing types), so
its schema is applied only when its jobs table is missing, while holding our schema advisory
lock: ten workers starting at once on an empty database all come up.
"""

from __future__ import annotations

import asyncio
import logging
import random

import psycopg
from procrastinate.schema import SchemaManager
from psycopg import AsyncConnection
from psycopg.rows import DictRow

from checkpointers import SCHEMA_LOCK_KEY, AsyncPool, MigrationError, setup_database
from checkpointers._queries import QUERIES

__all__ = ["setup_fleet_database"]

logger = logging.getLogger(__name__)

_POLL_SECONDS = 0.05


async def setup_fleet_database(pool: AsyncPool, *, lock_timeout: float = 120.0) -> None:
    """Create or upgrade every table the fleet needs; safe to run from many processes at once.

    Args:
        pool: an autocommit pool from :func:`checkpointers.open_async_pool`.
        lock_timeout: seconds to wait for another process's setup to finish.

    Raises:
        MigrationError: a schema step failed or the lock was not obtained in time.
    """
    await setup_database(pool, lock_timeout=lock_timeout)
    async with pool.connection() as conn:
        if await _installed(conn):
            return
        await _lock(conn, lock_timeout)
        try:
            if not await _installed(conn):  # another process may have won the race
                try:
                    async with conn.transaction():
                        await conn.execute(SchemaManager.get_schema(), prepare=False)
                except psycopg.Error as exc:
                    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                    raise MigrationError(
                        f"procrastinate schema setup failed: {reason or type(exc).__name__}"
                    ) from exc
                logger.info("applied the procrastinate schema")
        finally:
            if not conn.closed:
                await conn.execute(QUERIES.advisory_unlock, {"key": SCHEMA_LOCK_KEY})


async def _installed(conn: AsyncConnection[DictRow]) -> bool:
    cursor = await conn.execute(QUERIES.fleet_procrastinate_installed)
    row = await cursor.fetchone()
    return bool(row and row["installed"])


async def _lock(conn: AsyncConnection[DictRow], wait_seconds: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_seconds
    while True:
        cursor = await conn.execute(QUERIES.try_advisory_lock, {"key": SCHEMA_LOCK_KEY})
        row = await cursor.fetchone()
        if row is not None and row["locked"]:
            return
        if loop.time() > deadline:
            raise MigrationError(
                f"waited {wait_seconds:g} s for another process to set up the fleet schema",
                hint="look for a hung worker process holding the schema lock",
            )
        await asyncio.sleep(_POLL_SECONDS * (1 + random.random()))
