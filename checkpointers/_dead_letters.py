"""The dead-letter queue (``agent_graph_dead_letters``)."""

from __future__ import annotations

import builtins
import dataclasses
from datetime import datetime
from typing import Any, LiteralString

from checkpointers._models import _Record
from checkpointers._pool import AsyncPool
from checkpointers._queries import QUERIES

__all__ = ["DeadLetter", "DeadLetterStore", "NewDeadLetter"]


@dataclasses.dataclass(frozen=True, slots=True)
class NewDeadLetter(_Record):
    """What is known about a failure when its thread is dead-lettered."""

    thread_id: str
    graph: str | None
    node: str | None
    task_id: str | None
    kind: str
    reason: str
    error_type: str | None
    status_code: int | None
    code: str | None
    message: str | None
    attempts: int
    first_failure_at: datetime | None
    last_failure_at: datetime | None
    checkpoint_id: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class DeadLetter(NewDeadLetter):
    """One row of the dead-letter queue; ``state`` is ``open``, ``redriven``, ``discarded`` or
    ``compensated``."""

    id: int
    state: str
    created_at: datetime
    closed_at: datetime | None


class DeadLetterStore:
    """Add, read and close dead letters.

    Args:
        pool: a pool over a database set up with :func:`setup_database`.
    """

    def __init__(self, pool: AsyncPool) -> None:
        self._pool = pool

    async def add(self, letter: NewDeadLetter) -> DeadLetter:
        """Record ``letter``; a thread has at most one open letter (the newest facts win)."""
        added = await self._one(QUERIES.insert_dead_letter, dataclasses.asdict(letter))
        assert added is not None
        return added

    async def get(self, letter_id: int) -> DeadLetter | None:
        """The letter with this ID, open or closed."""
        return await self._one(QUERIES.get_dead_letter, {"id": letter_id})

    async def list(
        self, *, state: str | None = "open", reason: str | None = None, limit: int = 1000
    ) -> builtins.list[DeadLetter]:
        """Letters in ID order, filtered by state (``None``: all) and reason."""
        params = {"state": state, "reason": reason, "limit": limit}
        async with self._pool.connection() as conn:
            cursor = await conn.execute(QUERIES.list_dead_letters, params)
            return [DeadLetter.from_row(row) for row in await cursor.fetchall()]

    async def close(self, letter_id: int, state: str) -> DeadLetter | None:
        """Mark an open letter ``redriven`` or ``discarded``; None if it was not open."""
        return await self._one(QUERIES.close_dead_letter, {"id": letter_id, "state": state})

    async def _one(self, query: LiteralString, params: dict[str, Any]) -> DeadLetter | None:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(query, params)
            row = await cursor.fetchone()
        return DeadLetter.from_row(row) if row is not None else None
