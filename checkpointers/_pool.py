"""Connection pools configured the way langgraph's Postgres savers require.

``autocommit=True`` (the savers manage their own transactions), ``prepare_threshold=0`` and
``row_factory=dict_row``. Opening a pool first probes the server once so that a wrong or dead
``DATABASE_URL`` fails in ``connect_timeout`` seconds with the real reason, instead of the pool
retrying in the background for 30 s.
"""

from __future__ import annotations

import asyncio
import logging
import select
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from math import ceil
from typing import Any, TypeAlias

import psycopg
from psycopg import AsyncConnection, Connection
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool, ConnectionPool, PoolTimeout

from checkpointers._dsn import driver_reason, redact_dsn
from checkpointers._errors import DatabaseUnavailable
from checkpointers._queries import QUERIES
from checkpointers._sync import run_sync

__all__ = ["AsyncPool", "SyncPool", "check_if_suspect", "open_async_pool", "open_pool"]

logger = logging.getLogger(__name__)

AsyncPool: TypeAlias = AsyncConnectionPool[AsyncConnection[DictRow]]
SyncPool: TypeAlias = ConnectionPool[Connection[DictRow]]


@dataclass(frozen=True)
class _PoolConfig:
    """The one place where both pool flavours get their settings."""

    dsn: str
    min_size: int
    max_size: int
    connect_timeout: float

    def connection_kwargs(self) -> dict[str, Any]:
        return {
            "autocommit": True,
            "prepare_threshold": 0,
            "row_factory": dict_row,
            # libpq counts whole seconds and treats anything below 2 as 2.
            "connect_timeout": max(2, ceil(self.connect_timeout)),
        }

    def pool_kwargs(self) -> dict[str, Any]:
        return {
            "conninfo": self.dsn,
            "kwargs": self.connection_kwargs(),
            "min_size": self.min_size,
            "max_size": self.max_size,
            "open": False,
            "timeout": max(self.connect_timeout, 30.0),
            "name": "agent-graph",
        }

    def unavailable(self, reason: str) -> DatabaseUnavailable:
        return DatabaseUnavailable(
            f"cannot connect to PostgreSQL at {redact_dsn(self.dsn)}: {reason}"
        )


def _looks_closed(conn: AsyncConnection[Any] | Connection[Any]) -> bool:
    """Whether a pooled connection may be dead, judged without a round trip.

    An idle connection that the server ended (restart, ``idle_session_timeout``,
    ``pg_terminate_backend``) has something on its socket: the server's FATAL message or the end
    of the stream. A healthy idle connection has nothing to read (our pools never LISTEN).
    """
    if conn.closed or conn.broken:
        return True
    try:
        fd = conn.fileno()
    except psycopg.Error:
        return True
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(0))
    return bool(select.select([fd], [], [], 0)[0])  # Windows: no poll(), sockets select


async def check_if_suspect(conn: AsyncConnection[Any]) -> None:
    """``check`` callback of an async pool: a round trip only for a connection that looks dead.

    psycopg_pool's own :meth:`~psycopg_pool.AsyncConnectionPool.check_connection` costs one round
    trip per checkout, one more for every queue statement of a worker. This one polls the socket
    first (a system call) and runs that check only when the server has written or hung up.

    Raises:
        psycopg.OperationalError: the connection is dead (the pool replaces it).
    """
    if _looks_closed(conn):
        await AsyncConnectionPool.check_connection(conn)


def _check_if_suspect_sync(conn: Connection[Any]) -> None:
    if _looks_closed(conn):
        ConnectionPool.check_connection(conn)


#: A transaction left idle this long (its process frozen) is ended by the server.
IDLE_TRANSACTION_TIMEOUT = "10s"


async def _limit_idle(conn: AsyncConnection[DictRow]) -> None:
    await conn.execute(QUERIES.limit_idle_transactions, {"timeout": IDLE_TRANSACTION_TIMEOUT})


async def _probe(config: _PoolConfig) -> None:
    """Connect once and run a trivial query, or raise DatabaseUnavailable."""
    try:
        async with asyncio.timeout(config.connect_timeout):
            conn = await AsyncConnection.connect(config.dsn, **config.connection_kwargs())
            async with conn:
                await conn.execute(QUERIES.ping)
    except TimeoutError:
        raise config.unavailable(f"no answer within {config.connect_timeout:g} s") from None
    except psycopg.Error as exc:
        raise config.unavailable(driver_reason(exc, config.dsn)) from None


@asynccontextmanager
async def open_async_pool(
    dsn: str, *, min_size: int = 1, max_size: int = 10, connect_timeout: float = 5.0
) -> AsyncIterator[AsyncPool]:
    """Open an :class:`~psycopg_pool.AsyncConnectionPool` ready for langgraph and our stores.

    Args:
        dsn: connection string (see :func:`resolve_dsn`).
        min_size: connections kept open.
        max_size: most connections at once.
        connect_timeout: seconds to wait for the server before giving up.

    Raises:
        DatabaseUnavailable: the server did not answer within ``connect_timeout`` (the message
            names the DSN without its password and the driver's reason).
    """
    config = _PoolConfig(dsn, min_size, max_size, connect_timeout)
    await _probe(config)
    pool: AsyncPool = AsyncConnectionPool(
        **config.pool_kwargs(), configure=_limit_idle, check=check_if_suspect
    )
    try:
        try:
            await pool.open(wait=True, timeout=connect_timeout)
        except PoolTimeout:
            raise config.unavailable("the pool could not open its connections") from None
        logger.debug("pool opened", extra={"dsn": redact_dsn(dsn), "max_size": max_size})
        yield pool
    finally:
        await pool.close()


@contextmanager
def open_pool(
    dsn: str, *, min_size: int = 1, max_size: int = 10, connect_timeout: float = 5.0
) -> Iterator[SyncPool]:
    """Synchronous twin of :func:`open_async_pool`: yields a ``psycopg_pool.ConnectionPool``.

    Raises:
        DatabaseUnavailable: the server did not answer within ``connect_timeout``.
    """
    config = _PoolConfig(dsn, min_size, max_size, connect_timeout)
    run_sync(_probe(config))
    pool: SyncPool = ConnectionPool(**config.pool_kwargs(), check=_check_if_suspect_sync)
    try:
        try:
            pool.open(wait=True, timeout=connect_timeout)
        except PoolTimeout:
            raise config.unavailable("the pool could not open its connections") from None
        yield pool
    finally:
        pool.close()
