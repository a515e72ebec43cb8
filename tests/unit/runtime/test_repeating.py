"""Repeated background chores (run heartbeats, worker heartbeats, stalled-job scans)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from agent_graph._repeating import repeating


async def test_the_block_ends_even_when_the_chore_swallows_its_cancellation() -> None:
    # What psycopg_pool's wait for a connection does on Python 3.11 when the cancellation and
    # the connection arrive together: the chore returns normally, the task stays "cancelling".
    # A runner whose heartbeat did this never finished its thread (50 threads at once).
    entered = asyncio.Event()
    giving_up = False

    async def swallowing() -> None:
        entered.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            if giving_up:  # only to clean up after a failure of this test
                raise

    async def drive() -> None:
        async with repeating(0.01, swallowing, what="swallowing chore"):
            await entered.wait()

    driver = asyncio.create_task(drive())
    try:
        done, _ = await asyncio.wait({driver}, timeout=10)
        assert driver in done, "leaving the block hung on a chore that swallowed its cancel"
        driver.result()
    finally:
        giving_up = True
        driver.cancel()
        await asyncio.wait({driver}, timeout=5)


async def test_a_failing_chore_is_logged_and_run_again(caplog: pytest.LogCaptureFixture) -> None:
    calls = 0
    third = asyncio.Event()

    async def flaky() -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            third.set()
        raise ConnectionError("database went away")

    with caplog.at_level(logging.WARNING, logger="agent_graph._repeating"):
        async with repeating(0.01, flaky, what="worker heartbeat", extra={"owner": "w1"}):
            await asyncio.wait_for(third.wait(), timeout=10)
    assert calls >= 3
    failures = [r for r in caplog.records if r.getMessage().startswith("worker heartbeat failed")]
    assert failures
    assert "database went away" in failures[0].getMessage()
    assert failures[0].owner == "w1"


async def test_at_once_runs_before_the_first_interval_and_nothing_runs_after_the_block() -> None:
    ran = asyncio.Event()
    calls = 0

    async def chore() -> None:
        nonlocal calls
        calls += 1
        ran.set()

    async with repeating(3600, chore, what="scan", at_once=True):
        await asyncio.wait_for(ran.wait(), timeout=10)
    after = calls
    await asyncio.sleep(0.05)
    assert calls == after == 1
