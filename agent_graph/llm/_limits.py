"""Fleet-wide LLM flow control held in Postgres: concurrent calls and requests per minute.

Every process asks the same table before calling a model, so a fleet of any size stays under
the provider's limits and slows down *before* the provider answers 429:

- concurrency: a call holds a lease row while in flight; at most ``max_concurrent`` leases
  exist per model. A lease has an expiry, so a process killed mid-call frees its slot;
- rate: a token bucket per model refilled at ``rpm / 60`` tokens per second, up to ``burst``.

:class:`~agent_graph.llm.JournaledChatOpenAI` takes a slot around every request it sends from
a durable node (never for an answer read back from the journal). By hand::

    await set_llm_limit(pool, "gpt-4o-mini", max_concurrent=8, rpm=600)
    async with LlmLimiter.shared(pool).acquire("gpt-4o-mini"):
        answer = await llm.ainvoke(messages)

A model without a limit row is not limited. That answer is remembered for ``unlimited_seconds``
(5 s), so unlimited models cost no round trip per call; a limit set by another process applies
here within that time (at once when set through this process's shared limiter).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from psycopg.rows import DictRow

from checkpointers import AsyncPool
from checkpointers._queries import QUERIES
from policies._errors import ConfigurationError, DurableAgentError

from ..runtime._context import process_owner

__all__ = [
    "LlmLimiter",
    "LlmSlot",
    "LlmSlotTimeout",
    "ModelLimit",
    "ModelUsage",
    "clear_llm_limit",
    "llm_limits",
    "set_llm_limit",
]

logger = logging.getLogger(__name__)


class LlmSlotTimeout(DurableAgentError):
    """No LLM call slot became free within the caller's timeout."""

    default_hint = "raise the model's limits (agent-graph worker --llm-rpm / --llm-concurrency)"


@dataclass(frozen=True)
class ModelLimit:
    """Limits of one model for the whole fleet.

    Args:
        max_concurrent: calls in flight at once (None: no limit).
        rpm: requests per minute (None: no limit).
        burst: requests that may start back to back after an idle period; default one
            second's worth of ``rpm`` (at least 1).

    Raises:
        ConfigurationError: a limit is not positive or ``burst`` is below 1.
    """

    max_concurrent: int | None = None
    rpm: int | None = None
    burst: float | None = None

    def __post_init__(self) -> None:
        for name in ("max_concurrent", "rpm"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ConfigurationError(f"{name} must be positive, got {value}")
        if self.burst is not None and self.burst < 1:
            raise ConfigurationError(f"burst must be at least 1, got {self.burst}")

    @property
    def effective_burst(self) -> float:
        """The bucket's capacity."""
        if self.burst is not None:
            return self.burst
        return max(1.0, (self.rpm or 60) / 60.0)


@dataclass(frozen=True)
class ModelUsage:
    """A model's limits and its calls in flight right now."""

    model: str
    max_concurrent: int | None
    rpm: int | None
    in_flight: int


@dataclass(frozen=True)
class LlmSlot:
    """A call slot held for the block of :meth:`LlmLimiter.acquire`.

    Attributes:
        model: the model.
        lease_id: the lease row (None: the model has no limits, nothing is held).
        waited_seconds: time spent waiting for the slot.
    """

    model: str
    lease_id: int | None
    waited_seconds: float


_SHARED: weakref.WeakKeyDictionary[AsyncPool, LlmLimiter] = weakref.WeakKeyDictionary()


class LlmLimiter:
    """Admission control for LLM calls, shared through Postgres by every worker.

    Waiters of one process queue behind each other per model (first come, first served), so
    only one of them polls the database while the limit is reached: the wait the database
    suggests for the rate, else ``poll_seconds`` doubling up to ``max_poll_seconds``.

    Args:
        pool: an autocommit pool over a database with the fleet's migration.
        owner: recorded on leases (default ``host:pid``).
        lease_seconds: a lease not released after this long is presumed abandoned (longer
            than the slowest call, retries included); :meth:`acquire` may override it.
        poll_seconds: first interval between two attempts while every slot is taken.
        max_poll_seconds: longest interval between two attempts.
        unlimited_seconds: how long "this model has no limit" is remembered (0: never).
    """

    def __init__(
        self,
        pool: AsyncPool,
        *,
        owner: str | None = None,
        lease_seconds: float = 180.0,
        poll_seconds: float = 0.02,
        max_poll_seconds: float = 0.2,
        unlimited_seconds: float = 5.0,
    ) -> None:
        self._pool = pool
        self.owner = owner or process_owner()
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        self.max_poll_seconds = max_poll_seconds
        self.unlimited_seconds = unlimited_seconds
        self._unlimited_until: dict[str, float] = {}
        self._gates: dict[str, asyncio.Lock] = {}
        self._background: set[asyncio.Task[Any]] = set()

    @classmethod
    def shared(cls, pool: AsyncPool) -> LlmLimiter:
        """The limiter of ``pool`` in this process (the one ``JournaledChatOpenAI`` uses)."""
        limiter = _SHARED.get(pool)
        if limiter is None:
            limiter = _SHARED[pool] = cls(pool)
        return limiter

    async def set_limit(self, model: str, limit: ModelLimit) -> None:
        """Set (or replace) the fleet-wide limits of ``model``."""
        params: dict[str, Any] = {
            "model": model,
            "max_concurrent": limit.max_concurrent,
            "rpm": limit.rpm,
            "burst": limit.effective_burst,
        }
        async with self._pool.connection() as conn:
            await conn.execute(QUERIES.llm_set_limit, params)
        self._unlimited_until.pop(model, None)

    async def update_limit(
        self, model: str, *, max_concurrent: int | None = None, rpm: int | None = None
    ) -> ModelLimit:
        """Change the limits given for ``model`` and keep the others as they are.

        Returns:
            The model's limits now.

        Raises:
            ConfigurationError: a limit is not positive.
        """
        current = next((u for u in await self.usage() if u.model == model), None)
        limit = ModelLimit(
            max_concurrent=max_concurrent
            if max_concurrent is not None
            else (current.max_concurrent if current else None),
            rpm=rpm if rpm is not None else (current.rpm if current else None),
        )
        await self.set_limit(model, limit)
        return limit

    async def clear_limit(self, model: str) -> None:
        """Remove the limits of ``model`` (its calls are no longer throttled)."""
        async with self._pool.connection() as conn:
            await conn.execute(QUERIES.llm_clear_limit, {"model": model})

    async def usage(self) -> list[ModelUsage]:
        """Every limited model with its calls in flight."""
        async with self._pool.connection() as conn:
            cursor = await conn.execute(QUERIES.llm_usage)
            rows = await cursor.fetchall()
        return [ModelUsage(**row) for row in rows]

    @contextlib.asynccontextmanager
    async def acquire(
        self,
        model: str,
        *,
        max_wait: float | None = None,
        lease_seconds: float | None = None,
    ) -> AsyncIterator[LlmSlot]:
        """Wait for a call slot of ``model``, hold it for the block, release it after.

        The slot is released however the block ends (error and cancellation included).

        Args:
            model: the model name, as given to :meth:`set_limit`.
            max_wait: seconds to wait at most (None: wait as long as it takes).
            lease_seconds: this lease's expiry (default: the limiter's ``lease_seconds``).

        Raises:
            LlmSlotTimeout: no slot within ``max_wait``.
        """
        loop = asyncio.get_running_loop()
        began = loop.time()
        lease: int | None = None
        if self._unlimited_until.get(model, 0.0) <= began:
            lease = await self._wait_for_slot(model, max_wait, lease_seconds)
        slot = LlmSlot(model, lease, loop.time() - began)
        try:
            yield slot
        finally:
            if lease is not None:
                await asyncio.shield(self._spawn_release(lease))

    async def _wait_for_slot(
        self, model: str, max_wait: float | None, ttl: float | None = None
    ) -> int | None:
        params = {"model": model, "owner": self.owner, "ttl": ttl or self.lease_seconds}
        gate = self._gates.setdefault(model, asyncio.Lock())
        if not gate.locked():  # nobody of this process waits: try at once
            row = await self._attempt(params)
            if row["granted"]:
                return self._granted(model, row)
        if max_wait is None:
            async with gate:
                return await self._poll(model, params)
        try:
            async with asyncio.timeout(max_wait), gate:
                return await self._poll(model, params)
        except TimeoutError:
            message = f"no call slot for model {model!r} within {max_wait:g} s"
            raise LlmSlotTimeout(message) from None

    async def _poll(self, model: str, params: dict[str, Any]) -> int | None:
        delay = self.poll_seconds
        waits = 0
        while True:
            row = await self._attempt(params)
            if row["granted"]:
                if waits:
                    logger.debug("llm slot granted", extra={"model": model, "waits": waits})
                return self._granted(model, row)
            waits += 1
            suggested = float(row["wait_seconds"])
            pause = suggested if suggested > 0 else delay
            delay = min(delay * 2, self.max_poll_seconds)
            await asyncio.sleep(min(pause, self.max_poll_seconds * 5) * (1 + 0.2 * random.random()))

    def _granted(self, model: str, row: DictRow) -> int | None:
        lease: int | None = row["lease_id"]
        if lease is None and self.unlimited_seconds > 0:
            loop = asyncio.get_running_loop()
            self._unlimited_until[model] = loop.time() + self.unlimited_seconds
        return lease

    async def _attempt(self, params: dict[str, Any]) -> DictRow:
        """One acquire round trip; a lease granted to a cancelled caller is released."""
        task = asyncio.ensure_future(self._query(params))
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            task.add_done_callback(self._release_orphan)
            raise

    async def _query(self, params: dict[str, Any]) -> DictRow:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(QUERIES.llm_acquire, params)
            row = await cursor.fetchone()
        assert row is not None
        return row

    def _release_orphan(self, task: asyncio.Task[DictRow]) -> None:
        if task.cancelled() or task.exception() is not None:
            return
        lease = task.result()["lease_id"]
        if lease is not None:
            self._spawn_release(lease)

    def _spawn_release(self, lease: int) -> asyncio.Task[None]:
        # a task held here, so a release outlives the cancellation of its caller
        task = asyncio.ensure_future(self._release(lease))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def _release(self, lease: int) -> None:
        try:
            async with self._pool.connection() as conn:
                await conn.execute(QUERIES.llm_release, {"lease_id": lease})
        except Exception as exc:  # the lease expires on its own
            logger.warning("could not release llm lease: %s", exc, extra={"lease_id": lease})


async def set_llm_limit(
    pool: AsyncPool,
    model: str,
    *,
    max_concurrent: int | None = None,
    rpm: int | None = None,
    burst: float | None = None,
) -> None:
    """Set (or replace) the fleet-wide limits of ``model``; every worker respects them.

    Args:
        pool: a pool over the fleet's database.
        model: the model name sent to the provider (e.g. ``gpt-4o-mini``).
        max_concurrent: calls in flight at once across the fleet (None: no limit).
        rpm: requests per minute across the fleet (None: no limit).
        burst: requests that may start back to back after an idle period (default: one
            second's worth of ``rpm``).

    Raises:
        ConfigurationError: a limit is not positive or ``burst`` is below 1.
    """
    limit = ModelLimit(max_concurrent=max_concurrent, rpm=rpm, burst=burst)
    await LlmLimiter.shared(pool).set_limit(model, limit)


async def clear_llm_limit(pool: AsyncPool, model: str) -> None:
    """Remove the fleet-wide limits of ``model`` (its calls are no longer throttled)."""
    await LlmLimiter.shared(pool).clear_limit(model)


async def llm_limits(pool: AsyncPool) -> list[ModelUsage]:
    """Every limited model with its limits and its calls in flight now."""
    return await LlmLimiter.shared(pool).usage()
