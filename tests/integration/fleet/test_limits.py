"""Fleet-wide LLM flow control, shared by several real processes through Postgres."""

from __future__ import annotations

import asyncio
import itertools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agent_graph.fleet import LlmLimiter, LlmSlotTimeout, ModelLimit
from checkpointers import AsyncPool

pytestmark = pytest.mark.postgres
CLIENT = Path(__file__).with_name("limiter_client.py")


def _clients(dsn: str, model: str, processes: int, calls: int, hold: float) -> list[Any]:
    procs = [
        subprocess.Popen(
            [sys.executable, str(CLIENT), dsn, model, str(calls), str(hold)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    spans = []
    for proc in procs:
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0
        spans += [json.loads(line) for line in out.splitlines()]
    return spans


async def test_concurrent_calls_are_capped_across_processes(
    pool: AsyncPool, database_url: str
) -> None:
    await LlmLimiter(pool).set_limit("m-conc", ModelLimit(max_concurrent=2))
    spans = await asyncio.to_thread(_clients, database_url, "m-conc", 3, 3, 0.3)
    assert len(spans) == 9
    edges = sorted([(s["start"], 1) for s in spans] + [(s["end"], -1) for s in spans])
    in_flight = peak = 0
    for _, delta in edges:
        in_flight += delta
        peak = max(peak, in_flight)
    assert peak == 2
    assert await LlmLimiter(pool).usage() == [
        await _usage_row(pool, "m-conc", max_concurrent=2, rpm=None)
    ]


async def _usage_row(pool: AsyncPool, model: str, **limits: Any) -> Any:
    from agent_graph.fleet import ModelUsage

    return ModelUsage(model=model, in_flight=0, **limits)


async def test_requests_per_minute_are_spread_across_processes(
    pool: AsyncPool, database_url: str
) -> None:
    await LlmLimiter(pool).set_limit("m-rpm", ModelLimit(rpm=240, burst=1))  # one per 0.25 s
    spans = await asyncio.to_thread(_clients, database_url, "m-rpm", 3, 3, 0.0)
    starts = sorted(s["start"] for s in spans)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert starts[-1] - starts[0] >= 8 * 0.25 * 0.9
    assert min(gaps) >= 0.25 * 0.6, gaps


async def test_unlimited_model_and_timeout(pool: AsyncPool) -> None:
    limiter = LlmLimiter(pool)
    async with limiter.acquire("no-limit"):
        pass
    await limiter.set_limit("m-one", ModelLimit(max_concurrent=1))
    async with limiter.acquire("m-one"):
        with pytest.raises(LlmSlotTimeout):
            async with limiter.acquire("m-one", max_wait=0.3):
                pass
    async with limiter.acquire("m-one", max_wait=1):
        pass  # released after the block


async def test_a_crashed_holder_frees_its_slot_when_the_lease_expires(pool: AsyncPool) -> None:
    await LlmLimiter(pool).set_limit("m-lease", ModelLimit(max_concurrent=1))
    dead = LlmLimiter(pool, owner="gone:1", lease_seconds=0.5)
    lease = await dead._wait_for_slot("m-lease", None)  # taken and never released
    assert lease is not None
    async with LlmLimiter(pool).acquire("m-lease", max_wait=5):
        pass
