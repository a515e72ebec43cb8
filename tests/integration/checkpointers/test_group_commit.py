"""Group commit: concurrent threads' checkpoints share transactions, failures stay their own."""

from __future__ import annotations

import asyncio
import logging

import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from test_savers import build

from checkpointers import (
    AsyncPool,
    EventLog,
    HeldWrites,
    LeaseLost,
    NewEvent,
    RunRegistry,
    make_async_saver,
)
from checkpointers._group_commit import GroupCommitter


def config(thread_id: str) -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id}}


async def _checkpoint_transactions(pool: AsyncPool, prefix: str) -> tuple[int, int]:
    """(checkpoints, distinct transactions that wrote them) of the threads named prefix*."""
    async with pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT count(*) AS n, count(DISTINCT xmin::text) AS xacts FROM checkpoints"
            " WHERE thread_id LIKE %s",
            (prefix + "%",),
        )
        row = await cursor.fetchone()
    assert row is not None
    return int(row["n"]), int(row["xacts"])


async def test_concurrent_threads_checkpoints_share_transactions(pool: AsyncPool) -> None:
    threads = [f"gc-{i}" for i in range(40)]
    graph = build([]).compile(checkpointer=make_async_saver(pool))
    await asyncio.gather(
        *(graph.ainvoke({"steps": []}, config(t), durability="sync") for t in threads)
    )

    for thread_id in threads:  # every thread saved every step, as stock does
        state = await graph.aget_state(config(thread_id))
        assert state.values["steps"] == ["plan", "write", "publish"]
        assert not state.next
    checkpoints, transactions = await _checkpoint_transactions(pool, "gc-")
    assert checkpoints == 40 * 5  # input, __start__ and three nodes, per thread
    assert transactions <= checkpoints // 2

    # stock, for contrast: one transaction per checkpoint
    stock = build([]).compile(checkpointer=AsyncPostgresSaver(pool))  # type: ignore[arg-type]
    await asyncio.gather(
        *(stock.ainvoke({"steps": []}, config(f"st-{i}"), durability="sync") for i in range(10))
    )
    assert await _checkpoint_transactions(pool, "st-") == (50, 50)


async def test_a_taken_over_thread_fails_alone_in_a_shared_transaction(
    pool: AsyncPool, caplog: pytest.LogCaptureFixture
) -> None:
    runs = RunRegistry(pool)
    fences: dict[str, tuple[str, int]] = {}
    for thread_id in ("a", "b", "c"):
        await runs.create(thread_id, "g", {})
        fences[thread_id] = (thread_id, (await runs.claim(thread_id, "me")).lease)
    await runs.claim("b", "another worker")  # b is taken over: the lease held here is stale

    committer = GroupCommitter(pool)

    async def commit(thread_id: str) -> None:
        await committer.commit(
            fences[thread_id], HeldWrites(events=[NewEvent(thread_id, "node_completed")])
        )

    with caplog.at_level(logging.DEBUG, logger="checkpointers._group_commit"):
        results = await asyncio.gather(*(commit(t) for t in "abc"), return_exceptions=True)

    # the three were sent together, the shared transaction failed, each went again alone
    assert "writing its 3 threads one by one" in caplog.text
    assert results[0] is None
    assert results[2] is None
    assert isinstance(results[1], LeaseLost)
    events = EventLog(pool)
    assert [e.kind for e in await events.list("a")] == ["node_completed"]
    assert await events.list("b") == []
    assert [e.kind for e in await events.list("c")] == ["node_completed"]


async def test_bad_sizes_are_refused(pool: AsyncPool) -> None:
    with pytest.raises(ValueError, match="max_batch >= 1"):
        GroupCommitter(pool, max_batch=0)
