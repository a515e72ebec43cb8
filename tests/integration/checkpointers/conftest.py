"""Fixtures of the checkpointer tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import psycopg
import pytest
from row_lock import RowLock


@pytest.fixture
async def slow_thread_lock(database_url: str) -> AsyncIterator[RowLock]:
    """A row lock that holds up thread ``slow``'s task write until released."""
    conn = await psycopg.AsyncConnection.connect(database_url)
    await conn.execute(
        "INSERT INTO checkpoint_writes (thread_id, checkpoint_ns, checkpoint_id, task_id,"
        " task_path, idx, channel, type, blob) VALUES ('slow', '', 'c1', 'task', '', 0, 'x',"
        " 'json', '\\x00')"
    )
    lock = RowLock(conn)
    try:
        yield lock
    finally:
        await lock.release()
