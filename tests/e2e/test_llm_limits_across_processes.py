"""Fleet-wide LLM flow control across real processes: JournaledChatOpenAI calls from durable nodes
in several OS processes, one offline provider over HTTP, the limits held in Postgres.

Each client process prints when its HTTP requests left and when their answers were read; a
request is inside its slot, so those spans bound what the provider had in flight.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fleet_procs import wait_for

from agent_graph.llm import LlmLimiter, llm_limits, set_llm_limit
from agent_graph.provider import BackgroundProvider
from checkpointers import AsyncPool

pytestmark = pytest.mark.postgres
CLIENT = Path(__file__).with_name("llm_flow_client.py")
MODEL = "gpt-4o-mini"


@pytest.fixture(scope="module")
def slow_provider() -> Iterator[BackgroundProvider]:
    with BackgroundProvider(latency=0.3) as running:
        yield running


@pytest.fixture
def provider(slow_provider: BackgroundProvider) -> BackgroundProvider:
    slow_provider.reset()
    slow_provider.set_faults("")
    return slow_provider


def client(
    database_url: str,
    provider: BackgroundProvider,
    prefix: str,
    threads: int,
    *extra: str,
) -> subprocess.Popen[str]:
    command = [sys.executable, str(CLIENT), database_url, provider.openai_base_url, prefix]
    return subprocess.Popen(
        [*command, str(threads), *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def spans_of(procs: list[subprocess.Popen[str]], timeout: float = 60) -> list[dict[str, Any]]:
    spans = []
    for proc in procs:
        out, errors = proc.communicate(timeout=timeout)
        assert proc.returncode == 0, errors[-3000:]
        spans += [json.loads(line) for line in out.splitlines()]
    return [span for span in spans if "start" in span]


def ready(proc: subprocess.Popen[str]) -> bool:
    """Block until the client says it is connected and about to start its threads."""
    assert proc.stdout is not None
    line = proc.stdout.readline()
    return bool(line) and json.loads(line) == {"ready": True}


def peak_in_flight(spans: list[dict[str, Any]]) -> int:
    # at equal times an end sorts before a start: touching spans do not overlap
    edges = sorted([(s["start"], 1) for s in spans] + [(s["end"], -1) for s in spans])
    return max(itertools.accumulate(delta for _, delta in edges))


async def test_two_processes_never_have_more_calls_in_flight_than_the_limit(
    pool: AsyncPool, database_url: str, provider: BackgroundProvider
) -> None:
    await set_llm_limit(pool, MODEL, max_concurrent=2)
    procs = [client(database_url, provider, name, 4) for name in ("left", "right")]
    spans = spans_of(procs)

    assert len(spans) == 8
    assert {s["status"] for s in spans} == {200}
    assert provider.stats()["chat_completions_ok"] == 8, "every call completed, once"
    assert peak_in_flight(spans) == 2, "eight calls wanted to run at once; two did"
    assert [u.in_flight for u in await llm_limits(pool)] == [0], "every slot was given back"


async def test_requests_per_minute_hold_across_processes(
    pool: AsyncPool, database_url: str, provider: BackgroundProvider
) -> None:
    # Hold everyone back while the processes start: one request a minute, its token taken.
    await set_llm_limit(pool, MODEL, rpm=1, burst=1)
    async with LlmLimiter(pool).acquire(MODEL):
        pass
    procs = [client(database_url, provider, name, 6) for name in ("up", "down")]
    assert all([await asyncio.to_thread(ready, proc) for proc in procs])
    began = time.time()
    rpm = 240  # one request every 0.25 s, no burst beyond one
    await set_llm_limit(pool, MODEL, rpm=rpm, burst=1)
    starts = sorted(s["start"] for s in spans_of(procs))

    assert len(starts) == 12
    assert provider.stats()["chat_completions_ok"] == 12
    # Since `began` the bucket granted at most 1 + rpm/60 per second: the k-th request (from 0)
    # cannot leave before k / 4 s. A loaded machine only makes requests later, never earlier;
    # without the limit the waiting processes would all send at once, at `began` or before.
    early = [(k, round(s - began, 3)) for k, s in enumerate(starts) if s - began < k * 60 / rpm]
    assert not early, f"requests sent ahead of the rate: {early}"


async def test_a_killed_holder_blocks_the_others_no_longer_than_its_lease(
    pool: AsyncPool, database_url: str, provider: BackgroundProvider
) -> None:
    await set_llm_limit(pool, MODEL, max_concurrent=2)
    provider.set_faults("chat~HANG-ME:timeout(60)")
    holder = client(database_url, provider, "holder", 2, "HANG-ME", "3")
    try:

        async def both_slots_held() -> bool:
            return [u.in_flight for u in await llm_limits(pool)] == [2]

        deadline = time.monotonic() + 60
        while not await both_slots_held():
            assert time.monotonic() < deadline, "the holder never took both slots"
            assert holder.poll() is None, holder.communicate()[1][-3000:]
            await asyncio.sleep(0.1)
        wait_for(lambda: provider.stats()["chat_completions"] == 2, 30, "both calls in flight")
        async with await psycopg.AsyncConnection.connect(database_url) as conn:
            cursor = await conn.execute(
                "SELECT extract(epoch FROM min(expires_at))::float FROM agent_graph_llm_leases"
            )
            row = await cursor.fetchone()
        assert row is not None
        first_expiry: float = row[0]
        waiting = client(database_url, provider, "waiting", 3)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
    spans = spans_of([waiting])

    assert len(spans) == 3
    assert {s["status"] for s in spans} == {200}
    first = min(s["start"] for s in spans)
    assert first >= first_expiry, "no call went out while the dead holder's leases were valid"
    assert max(s["end"] for s in spans) < first_expiry + 30, "nothing waited past the leases"
    assert [u.in_flight for u in await llm_limits(pool)] == [0]
