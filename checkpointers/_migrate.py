"""Schema setup: langgraph's checkpoint tables plus our numbered migrations, under one lock.

Our migrations are the files ``sql/NNNN_<name>.sql``, applied in order, each in its own
transaction, and recorded in ``agent_graph_schema_migrations``. The whole setup runs while
holding a session-level advisory lock, so any number of processes can call it at once on a
fresh database (langgraph's own ``setup()`` alone fails with UniqueViolation when raced).
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import LiteralString

import psycopg
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from psycopg import AsyncConnection
from psycopg.rows import DictRow

from checkpointers._errors import MigrationError
from checkpointers._pool import AsyncPool, open_async_pool
from checkpointers._queries import QUERIES, read_sql
from checkpointers._sync import run_sync
from policies._errors import ConfigurationError

__all__ = ["SCHEMA_LOCK_KEY", "Migration", "migrations", "setup_database", "setup_database_sync"]

logger = logging.getLogger(__name__)

#: Key of the advisory lock held while the schema is set up (arbitrary, fixed forever).
SCHEMA_LOCK_KEY = 0x4147_5241_5048_0001
_FILENAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")
_POLL_SECONDS = 0.05


@dataclass(frozen=True)
class Migration:
    """One numbered schema migration shipped in ``checkpointers/sql``."""

    version: int
    name: str
    sql: LiteralString


@cache
def migrations() -> tuple[Migration, ...]:
    """All migrations shipped with the package, ordered by version.

    Raises:
        MigrationError: two files share a version number.
    """
    found: dict[int, Migration] = {}
    for entry in resources.files("checkpointers").joinpath("sql").iterdir():
        match = _FILENAME.match(entry.name)
        if not match:
            continue
        version = int(match["version"])
        if version in found:
            raise MigrationError(f"two migrations share version {version}: {entry.name}")
        found[version] = Migration(version, match["name"], read_sql(entry.name))
    return tuple(found[version] for version in sorted(found))


async def setup_database(pool: AsyncPool, *, lock_timeout: float = 120.0) -> None:
    """Create or upgrade every table the package uses; idempotent and safe to run concurrently.

    Runs langgraph's ``AsyncPostgresSaver.setup()`` and then our pending migrations, on one
    connection that holds the schema advisory lock.

    Args:
        pool: a pool from :func:`open_async_pool` (autocommit, dict rows).
        lock_timeout: seconds to wait for another process's setup to finish.

    Raises:
        MigrationError: a migration failed, or the lock was not obtained in ``lock_timeout``.
        ConfigurationError: the pool's connections are not in autocommit mode.
    """
    async with pool.connection() as conn:
        if not conn.autocommit:
            raise ConfigurationError(
                "setup_database needs autocommit connections",
                hint="open the pool with checkpointers.open_async_pool",
            )
        async with schema_lock(conn, wait_seconds=lock_timeout):
            await _setup_locked(conn)


@asynccontextmanager
async def schema_lock(
    conn: AsyncConnection[DictRow], *, wait_seconds: float = 120.0
) -> AsyncIterator[None]:
    """Hold the schema advisory lock (:data:`SCHEMA_LOCK_KEY`) on ``conn`` for the block.

    Every schema step of the project (ours, langgraph's, a queue's) runs under it, so processes
    racing to set up a fresh database take turns.

    Raises:
        MigrationError: the lock was not obtained within ``wait_seconds``.
    """
    await _lock(conn, wait_seconds)
    try:
        yield
    finally:
        if not conn.closed:
            await conn.execute(QUERIES.advisory_unlock, {"key": SCHEMA_LOCK_KEY})


def setup_database_sync(dsn: str, *, lock_timeout: float = 120.0) -> None:
    """Synchronous wrapper of :func:`setup_database` that opens (and closes) its own pool.

    Raises:
        DatabaseUnavailable: the server did not answer.
        MigrationError: see :func:`setup_database`.
    """

    async def run() -> None:
        async with open_async_pool(dsn, min_size=1, max_size=1) as pool:
            await setup_database(pool, lock_timeout=lock_timeout)

    run_sync(run())


async def _lock(conn: AsyncConnection[DictRow], wait_seconds: float) -> None:
    # Poll pg_try_advisory_lock instead of blocking in pg_advisory_lock: langgraph's setup
    # runs CREATE INDEX CONCURRENTLY, which waits for every open snapshot, including that of
    # a session blocked in pg_advisory_lock -> deadlock (verified on PostgreSQL 18).
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_seconds
    while True:
        cursor = await conn.execute(QUERIES.try_advisory_lock, {"key": SCHEMA_LOCK_KEY})
        row = await cursor.fetchone()
        if row is not None and row["locked"]:
            return
        if loop.time() > deadline:
            raise MigrationError(
                f"waited {wait_seconds:g} s for another process to finish setting up the schema",
                hint="look for a hung 'agent-graph db' or worker process holding the lock",
            )
        await asyncio.sleep(_POLL_SECONDS * (1 + random.random()))


async def _setup_locked(conn: AsyncConnection[DictRow]) -> None:
    try:
        await AsyncPostgresSaver(conn).setup()
    except psycopg.Error as exc:
        raise MigrationError(f"langgraph checkpoint setup failed: {_reason(exc)}") from exc
    await conn.execute(QUERIES.create_migrations_table)
    cursor = await conn.execute(QUERIES.applied_migrations)
    applied = {row["version"] for row in await cursor.fetchall()}
    known = migrations()
    if applied and max(applied) > known[-1].version:
        logger.warning(
            "database schema is newer than this package",
            extra={"db_version": max(applied), "package_version": known[-1].version},
        )
    for migration in known:
        if migration.version in applied:
            continue
        try:
            async with conn.transaction():
                # Several statements in one string: only the simple protocol accepts them.
                await conn.execute(migration.sql, prepare=False)
                await conn.execute(
                    QUERIES.record_migration,
                    {"version": migration.version, "name": migration.name},
                )
        except psycopg.Error as exc:
            raise MigrationError(
                f"migration {migration.version:04d}_{migration.name} failed: {_reason(exc)}"
            ) from exc
        logger.info(
            "applied migration",
            extra={"version": migration.version, "migration": migration.name},
        )


def _reason(exc: psycopg.Error) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
