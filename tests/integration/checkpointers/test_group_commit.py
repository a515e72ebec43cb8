"""Group commit: concurrent threads' checkpoints share transactions, failures stay their own."""

from __future__ import annotations

import asyncio
import logging

import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.postgres.base import (
    INSERT_CHECKPOINT_WRITES_SQL,
    UPSERT_CHECKPOINT_BLOBS_SQL,
    UPSERT_CHECKPOINT_WRITES_SQL,
)
from row_lock import RowLock
from test_savers import build

from checkpointers import (
    AsyncPool,
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

    # every thread saved every step, in stock's tables and rows: a stock saver reads them
    stock_reader = build([]).compile(checkpointer=AsyncPostgresSaver(pool))  # type: ignore[arg-type]
    for thread_id in threads:
        for reader in (graph, stock_reader):
            state = await reader.aget_state(config(thread_id))
            assert state.values["steps"] == ["plan", "write", "publish"]
            assert not state.next
        history = [s async for s in stock_reader.aget_state_history(config(thread_id))]
        assert len(history) == 5
    checkpoints, transactions = await _checkpoint_transactions(pool, "gc-")
    assert checkpoints == 40 * 5  # input, __start__ and three nodes, per thread
    assert transactions <= checkpoints // 2

    # stock, for contrast: one transaction per checkpoint
    stock = build([]).compile(checkpointer=AsyncPostgresSaver(pool))  # type: ignore[arg-type]
    await asyncio.gather(
        *(stock.ainvoke({"steps": []}, config(f"st-{i}"), durability="sync") for i in range(10))
    )
    assert await _checkpoint_transactions(pool, "st-") == (50, 50)


def _writes_of(thread_id: str, with_events: bool) -> HeldWrites:
    if with_events:  # the events carry the lease check
        return HeldWrites(events=[NewEvent(thread_id, "node_completed")])
    row = (thread_id, "", "c1", "task", "", 0, "x", "json", b"1")  # a lease check of its own
    return HeldWrites(rows=[(INSERT_CHECKPOINT_WRITES_SQL, [row])])


async def _written(pool: AsyncPool, thread_id: str) -> int:
    async with pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT (SELECT count(*) FROM agent_graph_events WHERE thread_id = %(t)s)"
            " + (SELECT count(*) FROM checkpoint_writes WHERE thread_id = %(t)s) AS n",
            {"t": thread_id},
        )
        row = await cursor.fetchone()
    assert row is not None
    return int(row["n"])


@pytest.mark.parametrize("with_events", [True, False], ids=["events", "rows"])
async def test_a_taken_over_thread_fails_alone_in_a_shared_transaction(
    pool: AsyncPool, caplog: pytest.LogCaptureFixture, with_events: bool
) -> None:
    runs = RunRegistry(pool)
    fences: dict[str, tuple[str, int]] = {}
    for thread_id in ("a", "b", "c"):
        await runs.create(thread_id, "g", {})
        fences[thread_id] = (thread_id, (await runs.claim(thread_id, "me")).lease)
    await runs.claim("b", "another worker")  # b is taken over: the lease held here is stale

    committer = GroupCommitter(pool)

    async def commit(thread_id: str) -> None:
        await committer.commit(fences[thread_id], _writes_of(thread_id, with_events))

    with caplog.at_level(logging.DEBUG, logger="checkpointers._group_commit"):
        results = await asyncio.gather(*(commit(t) for t in "abc"), return_exceptions=True)

    # the three were sent together, the shared transaction failed, each went again alone
    assert "writing its 3 threads one by one" in caplog.text
    assert results[0] is None
    assert results[2] is None
    assert isinstance(results[1], LeaseLost)
    assert [await _written(pool, t) for t in "abc"] == [1, 0, 1]


async def test_a_write_blocked_in_a_shared_transaction_does_not_hold_up_the_others(
    pool: AsyncPool, slow_thread_lock: RowLock
) -> None:
    # An uncommitted row with the same key makes the write of thread "slow" wait for a lock.
    try:
        committer = GroupCommitter(pool)
        # queued in the same loop iteration: both go in the first shared transaction
        slow = asyncio.create_task(committer.commit(None, _writes_of("slow", False)))
        fast = asyncio.create_task(committer.commit(None, _writes_of("fast", False)))
        await asyncio.wait_for(fast, timeout=10)  # after the lock timeout, sent alone
        assert not slow.done()
        assert await _written(pool, "fast") == 1
    finally:
        await slow_thread_lock.release()
    await asyncio.wait_for(slow, timeout=10)
    assert await _written(pool, "slow") == 1


async def test_rows_sent_together_keep_the_meaning_of_one_by_one(pool: AsyncPool) -> None:
    # Each statement of a shared transaction is sent once for all its rows (arrays zipped by
    # unnest). What lands must be what executing the rows one by one would leave: for an
    # upsert the later row of a key wins, for an insert-or-ignore the earlier one stays,
    # events keep their order, and NULLs and bytes come back as sent.
    committer = GroupCommitter(pool)

    def write(sql: str, thread_id: str, idx: int, blob: bytes | None) -> HeldWrites:
        row = (thread_id, "", "c1", "task", "", idx, "ch", "json", blob)
        return HeldWrites(rows=[(sql, [row])])

    upsert, insert = UPSERT_CHECKPOINT_WRITES_SQL, INSERT_CHECKPOINT_WRITES_SQL
    held = [
        write(upsert, "u", -1, b"first"),
        write(insert, "i", 0, b"kept"),
        write(upsert, "u", -1, b"second"),
        write(insert, "i", 0, b"ignored"),
        write(insert, "i", 1, b""),
        # a channel without value: a blob row of type "empty" and a NULL blob
        HeldWrites(rows=[(UPSERT_CHECKPOINT_BLOBS_SQL, [("i", "", "ch", "1", "empty", None)])]),
        HeldWrites(events=[NewEvent("u", "one", data={"n": 1}), NewEvent("i", "two")]),
        HeldWrites(events=[NewEvent("u", "three", node="x", attempt=2)]),
    ]
    # queued in one loop iteration: one shared transaction
    await asyncio.gather(*(committer.commit(None, h, thread_id="t") for h in held))

    async with pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT thread_id, idx, blob, xmin::text AS x FROM checkpoint_writes"
            " ORDER BY thread_id, idx"
        )
        writes = await cursor.fetchall()
        cursor = await conn.execute(
            "SELECT thread_id, kind, node, attempt, data, xmin::text AS x"
            " FROM agent_graph_events ORDER BY id"
        )
        events = await cursor.fetchall()
        cursor = await conn.execute("SELECT type, blob, xmin::text AS x FROM checkpoint_blobs")
        blobs = await cursor.fetchall()
    assert [(b["type"], b["blob"]) for b in blobs] == [("empty", None)]
    assert [(w["thread_id"], w["idx"], w["blob"]) for w in writes] == [
        ("i", 0, b"kept"),
        ("i", 1, b""),
        ("u", -1, b"second"),
    ]
    assert [(e["thread_id"], e["kind"], e["node"], e["attempt"], e["data"]) for e in events] == [
        ("u", "one", None, None, {"n": 1}),
        ("i", "two", None, None, {}),
        ("u", "three", "x", 2, {}),
    ]
    assert len({row["x"] for row in [*writes, *events, *blobs]}) == 1  # one transaction


async def test_bad_sizes_are_refused(pool: AsyncPool) -> None:
    with pytest.raises(ValueError, match="max_batch >= 1"):
        GroupCommitter(pool, max_batch=0)
