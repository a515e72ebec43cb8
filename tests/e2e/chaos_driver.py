"""Chaos driver: bring every thread of a keyword list to the end, in one process, concurrently.

Used by ``test_chaos.py`` in place of one ``agent-graph resume ID`` process per thread (a
process start costs ~1.5 s). Configuration comes from the environment like the CLI's
(``DATABASE_URL``, ``OPENAI_BASE_URL``, ``AGENT_GRAPH_FAILPOINTS``...), so the failpoints stay
active and the process may be SIGKILLed at any moment; the test simply runs it again.

For each keyword, in parallel (``--concurrency`` at a time): a thread with no checkpoint is
started (``agent.run``, which returns a completed thread's status and registers a new one), an
unfinished one is resumed (``agent.resume``), a completed one is left alone. When every thread
has been handled the statuses are printed as one JSON object ``{thread_id: status}`` (a
thread that cannot be resumed, e.g. a compensated one, gets the error's name and message).

    python tests/e2e/chaos_driver.py KEYWORDS_FILE [--concurrency 50] [--max-recoveries 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from agent_graph import (
    ContentAgent,
    DurableAgentError,
    Settings,
    ThreadNotFound,
    open_content_agent,
    thread_id_for,
)
from policies import Budget


async def settle(agent: ContentAgent, keyword: str, gate: asyncio.Semaphore) -> str:
    """Start, resume or leave alone the keyword's thread; return its status afterwards."""
    thread_id = thread_id_for(keyword)
    async with gate:
        try:
            status = await agent.status(thread_id)
        except ThreadNotFound:
            status = None
        try:
            if status is None or status.checkpoint_id is None:
                [status] = await agent.run([keyword], concurrency=1)
            elif status.status != "completed":
                status = await agent.resume(thread_id)
        except DurableAgentError as exc:  # e.g. a compensated thread: the test reports it
            return f"{type(exc).__name__}: {exc}"
        return status.status


async def main(keywords: list[str], concurrency: int, max_recoveries: int) -> dict[str, str]:
    """Handle every keyword once; return ``{thread_id: status}``."""
    gate = asyncio.Semaphore(concurrency)
    async with open_content_agent(Settings(concurrency=concurrency)) as agent:
        # A kill takes down every thread in flight in the process, so under random kills a
        # node task is often interrupted by other threads' failpoints; the default crash-loop
        # limit (3 interruptions of one task) would dead-letter such innocent bystanders.
        agent.runner.ctx.budget = Budget(max_recoveries=max_recoveries)
        statuses = await asyncio.gather(*(settle(agent, k, gate) for k in keywords))
    return {thread_id_for(k): s for k, s in zip(keywords, statuses, strict=True)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="resume every unfinished thread")
    parser.add_argument("keywords_file", type=Path, help="one keyword per line")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--max-recoveries", type=int, default=Budget().max_recoveries)
    args = parser.parse_args()
    lines = args.keywords_file.read_text().splitlines()
    result = asyncio.run(
        main([k for k in lines if k.strip()], args.concurrency, args.max_recoveries)
    )
    json.dump(result, sys.stdout)
    sys.exit(0)
