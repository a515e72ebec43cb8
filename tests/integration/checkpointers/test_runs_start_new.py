"""The run registry's one-statement start of a brand-new thread, and run ends that share commits.

Transactions are told apart by the ``xmin`` system column of the rows they wrote.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import empty_checkpoint

from checkpointers import AsyncPool, LeaseLost, NewEvent, RunRegistry, make_async_saver
from checkpointers._group_commit import GroupCommitter


def started(thread_id: str, owner: str = "host:1") -> NewEvent:
    return NewEvent(thread_id, "run_started", owner=owner, data={"graph": "docs"})


async def fetch(pool: AsyncPool, query: str, thread_id: str) -> list[dict[str, Any]]:
    async with pool.connection() as conn:
        cursor = await conn.execute(query, {"t": thread_id})
        return list(await cursor.fetchall())


RUN_XMIN = "SELECT xmin::text AS xmin FROM agent_graph_runs WHERE thread_id = %(t)s"
EVENTS = (
    "SELECT kind, node, task_id, attempt, owner, data, xmin::text AS xmin"
    " FROM agent_graph_events WHERE thread_id = %(t)s ORDER BY id"
)


async def test_a_new_thread_is_created_claimed_and_started_in_one_transaction(
    pool: AsyncPool,
) -> None:
    runs = RunRegistry(pool)
    run = await runs.start_new("t1", "docs", {"text": "hi"}, owner="host:1", event=started("t1"))

    assert run is not None
    assert (run.thread_id, run.graph, run.status, run.owner) == ("t1", "docs", "running", "host:1")
    assert run.input == {"text": "hi"}
    assert run.heartbeat_at is not None
    assert (run.recoveries, run.error) == (0, None)
    # the first lease, as a first claim of a created run would give it
    assert run.lease == 1
    assert await runs.get("t1") == run
    [event] = await fetch(pool, EVENTS, "t1")
    [row] = await fetch(pool, RUN_XMIN, "t1")
    assert {k: v for k, v in event.items() if k != "xmin"} == {
        "kind": "run_started",
        "node": None,
        "task_id": None,
        "attempt": None,
        "owner": "host:1",
        "data": {"graph": "docs"},
    }
    assert event["xmin"] == row["xmin"], "run and event were committed together"

    # the next claim (another worker taking over) fences this one out
    claim = await runs.claim("t1", "host:2")
    assert (claim.previous.owner, claim.lease) == ("host:1", 2)


async def test_an_existing_run_is_left_alone(pool: AsyncPool) -> None:
    runs = RunRegistry(pool)
    created = await runs.create("t1", "docs", {"text": "first"})

    again = await runs.start_new("t1", "docs", {"text": "other"}, owner="h:1", event=started("t1"))

    assert again is None
    assert await runs.get("t1") == created
    assert await fetch(pool, EVENTS, "t1") == []


async def test_a_thread_with_a_checkpoint_but_no_run_is_left_alone(pool: AsyncPool) -> None:
    """A thread a plain ``invoke`` wrote (checkpoints, no run) is not a new thread."""
    saver = make_async_saver(pool)
    config: RunnableConfig = {"configurable": {"thread_id": "t1", "checkpoint_ns": ""}}
    await saver.aput(config, empty_checkpoint(), {"source": "input", "step": -1}, {})
    runs = RunRegistry(pool)

    refused = await runs.start_new("t1", "docs", {}, owner="h:1", event=started("t1"))

    assert refused is None
    assert await runs.get("t1") is None
    assert await fetch(pool, EVENTS, "t1") == []


async def test_of_concurrent_starts_of_a_thread_exactly_one_wins(pool: AsyncPool) -> None:
    runs = RunRegistry(pool)
    results = await asyncio.gather(
        *(
            runs.start_new("t1", "docs", {"n": i}, owner=f"h:{i}", event=started("t1", f"h:{i}"))
            for i in range(5)
        )
    )

    winners = [run for run in results if run is not None]
    assert len(winners) == 1
    assert await runs.get("t1") == winners[0]
    events = await fetch(pool, EVENTS, "t1")
    assert [(e["kind"], e["owner"]) for e in events] == [("run_started", winners[0].owner)]


async def test_an_event_of_another_thread_is_refused(pool: AsyncPool) -> None:
    with pytest.raises(ValueError, match="'t2'"):
        await RunRegistry(pool).start_new("t1", "docs", {}, owner="h:1", event=started("t2"))


async def _start_all(runs: RunRegistry, threads: str) -> dict[str, int]:
    leases = {}
    for thread_id in threads:
        run = await runs.start_new(thread_id, "docs", {}, owner="me", event=started(thread_id))
        assert run is not None
        leases[thread_id] = run.lease
    return leases


async def _finish_all(runs: RunRegistry, leases: dict[str, int]) -> list[BaseException | None]:
    async def finish(thread_id: str) -> None:
        event = NewEvent(thread_id, "run_completed", owner="me")
        await runs.finish(event, "completed", owner="me", lease=leases[thread_id])

    return await asyncio.gather(*(finish(t) for t in leases), return_exceptions=True)


async def test_run_ends_of_concurrent_threads_share_a_commit(pool: AsyncPool) -> None:
    runs = RunRegistry(pool, GroupCommitter(pool))
    leases = await _start_all(runs, "abc")

    assert await _finish_all(runs, leases) == [None, None, None]

    ends = set()
    for thread_id in "abc":
        run = await runs.get(thread_id)
        assert run is not None
        assert run.status == "completed"
        [row] = await fetch(pool, RUN_XMIN, thread_id)
        events = await fetch(pool, EVENTS, thread_id)
        assert [e["kind"] for e in events] == ["run_started", "run_completed"]
        # a run's status and its event are still one transaction...
        assert events[-1]["xmin"] == row["xmin"]
        ends.add(row["xmin"])
    # ... and the three ends were sent together, as one
    assert len(ends) == 1


async def test_a_run_end_through_a_committer_is_fenced_alone(pool: AsyncPool) -> None:
    runs = RunRegistry(pool, GroupCommitter(pool))
    leases = await _start_all(runs, "abc")
    await runs.claim("b", "another worker")  # b was taken over: the lease held here is stale

    results = await _finish_all(runs, leases)

    assert results[0] is None
    assert isinstance(results[1], LeaseLost)
    assert results[2] is None
    for thread_id, status in (("a", "completed"), ("b", "running"), ("c", "completed")):
        run = await runs.get(thread_id)
        assert run is not None
        assert run.status == status
    kinds = {t: [e["kind"] for e in await fetch(pool, EVENTS, t)] for t in "abc"}
    assert kinds == {
        "a": ["run_started", "run_completed"],
        "b": ["run_started"],
        "c": ["run_started", "run_completed"],
    }
