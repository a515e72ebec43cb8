"""Running the async core from synchronous callers."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["run_sync"]

_T = TypeVar("_T")


def run_sync(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run ``coro`` to completion from synchronous code and return its result.

    Uses :func:`asyncio.run`, or a short-lived worker thread when the calling thread already
    runs an event loop (a notebook, an async framework calling sync code).
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["result"] = asyncio.run(coro)
        except BaseException as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=target, name="agent-graph-run-sync")
    worker.start()
    worker.join()
    if "error" in outcome:
        raise outcome["error"]
    result: _T = outcome["result"]
    return result
