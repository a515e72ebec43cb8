"""Background chores repeated at an interval (heartbeats, scans) that stop when told to."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

__all__ = ["repeating"]

logger = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def repeating(
    interval: float,
    chore: Callable[[], Awaitable[Any]],
    *,
    what: str,
    at_once: bool = False,
    extra: dict[str, Any] | None = None,
) -> AsyncIterator[None]:
    """Run ``chore`` every ``interval`` seconds while the block runs.

    A failing chore is logged and tried again at the next interval. Leaving the block stops
    the chore and waits for it to end.

    Args:
        interval: seconds between the end of one run and the start of the next.
        chore: what to run.
        what: names the chore in the warning logged when it fails.
        at_once: run the chore as the block starts (else only after the first interval).
        extra: structured fields for that warning.
    """
    stopped = asyncio.Event()

    async def pause() -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(interval):
                await stopped.wait()

    async def loop() -> None:
        if not at_once:
            await pause()
        while not stopped.is_set():
            try:
                await chore()
            except Exception as exc:
                logger.warning("%s failed: %s", what, exc, extra=extra or {})
            await pause()

    task = asyncio.create_task(loop(), name=what)
    try:
        yield
    finally:
        # Cancelling alone is not enough to stop the loop: on Python 3.11, asyncio.wait_for
        # (which psycopg_pool uses while a caller waits for a connection) swallows a
        # cancellation that arrives as the connection is handed over, and the loop would go
        # on forever. The event ends it at its next check whatever happens to the cancel.
        stopped.set()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
