"""A separate process that takes LLM slots from the fleet limiter and prints when it held them.

Usage: python limiter_client.py DSN MODEL CALLS HOLD_SECONDS -> one JSON line per call:
{"start": <epoch>, "end": <epoch>} (wall clock, comparable across processes).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from agent_graph.fleet import LlmLimiter
from checkpointers import open_async_pool


async def main(dsn: str, model: str, calls: int, hold: float) -> None:
    async with open_async_pool(dsn, max_size=2) as pool:
        limiter = LlmLimiter(pool)

        async def one() -> None:
            async with limiter.acquire(model):
                start = time.time()
                await asyncio.sleep(hold)
                end = time.time()
            print(json.dumps({"start": start, "end": end}), flush=True)

        await asyncio.gather(*(one() for _ in range(calls)))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])))
