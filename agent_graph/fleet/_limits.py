"""Fleet-wide LLM flow control held in Postgres: concurrent calls and requests per minute.

Every worker asks the same table before calling a model, so a fleet of any size stays under
the provider's limits and slows down *before* the provider answers 429:

- concurrency: a call holds a lease row while in flight; at most ``max_concurrent`` leases
  exist per model. A lease has an expiry, so a worker killed mid-call frees its slot;
- rate: a token bucket per model refilled at ``rpm / 60`` tokens per second, up to ``burst``.

Usage::

    limiter = LlmLimiter(pool)
    await limiter.set_limit("gpt-4o-mini", ModelLimit(max_concurrent=8, rpm=600))
    async with limiter.acquire("gpt-4o-mini"):
        answer = await llm.ainvoke(messages)

A model without a limit row is not limited (one query per acquire, no lease).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from checkpointers import AsyncPool
from checkpointers._queries import QUERIES
from policies._errors import ConfigurationError, DurableAgentError

from ..runtime._context import process_owner

__all__ = ["LlmLimiter", "LlmSlotTimeout", "ModelLimit", "ModelUsage"]

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


class LlmLimiter:
    """Admission control for LLM calls, shared through Postgres by every worker.

    Args:
        pool: an autocommit pool over a database with the fleet's migration.
        owner: recorded on leases (default ``host:pid``).
        lease_seconds: a lease not released after this long is presumed abandoned (longer
            than the slowest call, retries included).
        poll_seconds: base interval between two attempts while every slot is taken.
    """

    def __init__(
        self,
        pool: AsyncPool,
        *,
        owner: str | None = None,
        lease_seconds: float = 180.0,
        poll_seconds: float = 0.05,
    ) -> None:
        self._pool = pool
        self.owner = owner or process_owner()
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds

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
    async def acquire(self, model: str, *, max_wait: float | None = None) -> AsyncIterator[None]:
        """Wait for a call slot of ``model``, hold it for the block, release it after.

        Args:
            model: the model name, as given to :meth:`set_limit`.
            max_wait: seconds to wait at most (None: wait as long as it takes).

        Raises:
            LlmSlotTimeout: no slot within ``max_wait``.
        """
        lease = await self._wait_for_slot(model, max_wait)
        try:
            yield
        finally:
            if lease is not None:
                await asyncio.shield(self._release(lease))

    async def _wait_for_slot(self, model: str, max_wait: float | None) -> int | None:
        loop = asyncio.get_running_loop()
        deadline = None if max_wait is None else loop.time() + max_wait
        params = {"model": model, "owner": self.owner, "ttl": self.lease_seconds}
        waits = 0
        while True:
            async with self._pool.connection() as conn:
                cursor = await conn.execute(QUERIES.llm_acquire, params)
                row = await cursor.fetchone()
            assert row is not None
            if row["granted"]:
                if waits:
                    logger.debug("llm slot granted", extra={"model": model, "waits": waits})
                lease: int | None = row["lease_id"]
                return lease
            waits += 1
            delay = float(row["wait_seconds"]) or self.poll_seconds * (1 + waits**0.5)
            delay = min(delay, 1.0) * (1 + 0.2 * random.random())
            if deadline is not None:
                left = deadline - loop.time()
                if left <= 0:
                    raise LlmSlotTimeout(f"no call slot for model {model!r} within {max_wait:g} s")
                delay = min(delay, left)
            await asyncio.sleep(delay)

    async def _release(self, lease: int) -> None:
        try:
            async with self._pool.connection() as conn:
                await conn.execute(QUERIES.llm_release, {"lease_id": lease})
        except Exception as exc:  # the lease expires on its own
            logger.warning("could not release llm lease: %s", exc, extra={"lease_id": lease})
