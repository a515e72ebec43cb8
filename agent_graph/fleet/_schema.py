"""One idempotent, race-safe schema step: our tables, langgraph's checkpoints, Procrastinate's.

Procrastinate's ``schema --apply`` is not idempotent (a second run fails on existing types), so
its schema is applied only when its jobs table is missing, while holding our schema advisory
lock: ten workers starting at once on an empty database all come up.
"""

from __future__ import annotations

import logging

import psycopg
from procrastinate.schema import SchemaManager
from psycopg import AsyncConnection
from psycopg.rows import DictRow

from checkpointers import AsyncPool, MigrationError, schema_lock, setup_database
from checkpointers._queries import QUERIES

__all__ = ["setup_fleet_database"]

logger = logging.getLogger(__name__)


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
        async with schema_lock(conn, wait_seconds=lock_timeout):
            if await _installed(conn):  # another process may have won the race
                return
            try:
                async with conn.transaction():
                    await conn.execute(SchemaManager.get_schema(), prepare=False)
            except psycopg.Error as exc:
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                raise MigrationError(
                    f"procrastinate schema setup failed: {reason or type(exc).__name__}"
                ) from exc
            logger.info("applied the procrastinate schema")


async def _installed(conn: AsyncConnection[DictRow]) -> bool:
    cursor = await conn.execute(QUERIES.fleet_procrastinate_installed)
    row = await cursor.fetchone()
    return bool(row and row["installed"])
