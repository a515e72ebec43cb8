"""Pools: langgraph-ready configuration, and fast, clear failures for a bad DATABASE_URL."""

from __future__ import annotations

import time
from typing import Any

import pytest
from psycopg.rows import dict_row

from checkpointers import (
    DatabaseUnavailable,
    open_async_pool,
    open_pool,
    resolve_dsn,
)
from policies._errors import ConfigurationError, DurableAgentError

UNREACHABLE = "postgresql://agent:hunter2secret@127.0.0.1:1/agents"


async def test_async_pool_connections_are_configured_for_langgraph(database_url: str) -> None:
    async with open_async_pool(database_url, max_size=3) as pool, pool.connection() as conn:
        assert conn.autocommit is True
        assert conn.prepare_threshold == 0
        assert conn.row_factory is dict_row
        cursor = await conn.execute("SELECT 41 + 1 AS answer")
        assert await cursor.fetchone() == {"answer": 42}
    assert pool.max_size == 3
    assert pool.closed


def test_sync_pool_has_the_same_configuration(database_url: str) -> None:
    with open_pool(database_url) as pool, pool.connection() as conn:
        assert conn.autocommit is True
        assert conn.prepare_threshold == 0
        assert conn.execute("SELECT 1 AS one").fetchone() == {"one": 1}
    assert pool.closed


async def test_unreachable_server_fails_fast_without_leaking_the_password() -> None:
    started = time.monotonic()
    with pytest.raises(DatabaseUnavailable) as caught:
        async with open_async_pool(UNREACHABLE, connect_timeout=2.0):
            pass
    elapsed = time.monotonic() - started

    error = caught.value
    assert elapsed < 4.0
    assert isinstance(error, DurableAgentError)
    assert "hunter2secret" not in str(error)
    assert "127.0.0.1:1" in error.message
    assert "\n" not in str(error)
    assert "DATABASE_URL" in error.hint


def test_sync_pool_fails_the_same_way() -> None:
    started = time.monotonic()
    with pytest.raises(DatabaseUnavailable) as caught, open_pool(UNREACHABLE, connect_timeout=2.0):
        pass
    assert time.monotonic() - started < 4.0
    assert "hunter2secret" not in str(caught.value)


async def test_missing_database_names_the_reason(pg_server: Any) -> None:
    with pytest.raises(DatabaseUnavailable) as caught:
        async with open_async_pool(pg_server.dsn("agent_graph_no_such_database")):
            pass
    assert "does not exist" in caught.value.message


def test_malformed_database_url_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError) as caught:
        resolve_dsn("mysql://agent:hunter2secret@db/agents")
    assert "hunter2secret" not in str(caught.value)


TERMINATE = "SELECT pg_terminate_backend(%(pid)s, 10000) AS done"


async def test_a_connection_the_server_ended_is_replaced_before_use(database_url: str) -> None:
    # e.g. a Postgres restart, idle_session_timeout, or an administrator's pg_terminate_backend
    async with open_async_pool(database_url, min_size=1, max_size=1) as pool:
        async with pool.connection() as conn:
            first_pid = conn.info.backend_pid
        async with open_async_pool(database_url, max_size=1) as admin, admin.connection() as other:
            cursor = await other.execute(TERMINATE, {"pid": first_pid})
            assert await cursor.fetchone() == {"done": True}
        async with pool.connection() as conn:
            cursor = await conn.execute("SELECT pg_backend_pid() AS pid")
            row = await cursor.fetchone()
    assert row is not None
    assert row["pid"] != first_pid


def test_the_sync_pool_replaces_it_too(database_url: str) -> None:
    with open_pool(database_url, min_size=1, max_size=1) as pool:
        with pool.connection() as conn:
            first_pid = conn.info.backend_pid
        with open_pool(database_url, max_size=1) as admin, admin.connection() as other:
            assert other.execute(TERMINATE, {"pid": first_pid}).fetchone() == {"done": True}
        with pool.connection() as conn:
            row = conn.execute("SELECT pg_backend_pid() AS pid").fetchone()
    assert row is not None
    assert row["pid"] != first_pid
