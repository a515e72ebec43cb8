"""langgraph savers over our pools: durable resume, the before-commit hook, concurrency."""

from __future__ import annotations

import asyncio
import operator
from typing import Annotated, Any, Literal, TypedDict

import psycopg
import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.graph import END, START, StateGraph
from row_lock import RowLock

from checkpointers import (
    AsyncPool,
    HookedAsyncPostgresSaver,
    make_async_saver,
    open_async_saver,
    open_saver,
)


class State(TypedDict):
    steps: Annotated[list[str], operator.add]


def build(runs: list[str]) -> StateGraph[State]:
    """A three-node line graph that records every node execution in ``runs``."""
    graph: StateGraph[State] = StateGraph(State)
    for name in ("plan", "write", "publish"):

        def node(state: State, name: str = name) -> dict[str, Any]:
            runs.append(name)
            return {"steps": [name]}

        graph.add_node(name, node)
    graph.add_edge(START, "plan")
    graph.add_edge("plan", "write")
    graph.add_edge("write", "publish")
    graph.add_edge("publish", END)
    return graph


def config(thread_id: str) -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id}}


async def test_hook_sees_every_commit_and_a_crash_before_commit_resumes_cleanly(
    pool: AsyncPool,
) -> None:
    calls: list[str] = []
    # Per step, "put_writes" commits a node's output, then "put" the checkpoint. The 4th put
    # is the checkpoint after "write" (1: input, 2: after __start__, 3: after "plan").
    crash_at_put = {"n": 4}

    async def before_commit(op: Literal["put", "put_writes"], cfg: RunnableConfig) -> None:
        calls.append(op)
        if op == "put" and calls.count("put") == crash_at_put["n"]:
            raise RuntimeError("failpoint: before checkpoint commit")

    runs: list[str] = []
    saver = make_async_saver(pool, before_commit=before_commit)
    assert isinstance(saver, HookedAsyncPostgresSaver)
    graph = build(runs).compile(checkpointer=saver)

    with pytest.raises(RuntimeError, match="failpoint"):
        await graph.ainvoke({"steps": []}, config("t1"), durability="sync")
    assert {"put", "put_writes"} <= set(calls)
    # The checkpoint after "write" was never committed; the one after "plan" was.
    saved = await saver.aget_tuple(config("t1"))
    assert saved is not None
    assert saved.checkpoint["channel_values"]["steps"] == ["plan"]

    crash_at_put["n"] = 0  # disarm
    result = await graph.ainvoke(None, config("t1"), durability="sync")

    assert result["steps"] == ["plan", "write", "publish"]
    # "write"'s output was committed by put_writes before the crash: no node ran twice.
    assert runs == ["plan", "write", "publish"]


async def test_sync_hook_functions_are_accepted(pool: AsyncPool) -> None:
    seen: list[str] = []
    saver = make_async_saver(pool, before_commit=lambda op, cfg: seen.append(op))
    graph = build([]).compile(checkpointer=saver)

    await graph.ainvoke({"steps": []}, config("t1"), durability="sync")

    assert "put" in seen


async def test_a_blocked_thread_does_not_hold_up_other_threads(
    pool: AsyncPool, database_url: str, slow_thread_lock: RowLock
) -> None:
    # An uncommitted row with the same key makes thread "slow"'s write wait in the database.

    async def write(saver: AsyncPostgresSaver, thread_id: str) -> None:
        cfg: RunnableConfig = {
            "configurable": {"thread_id": thread_id, "checkpoint_ns": "", "checkpoint_id": "c1"}
        }
        await saver.aput_writes(cfg, [("x", 1)], "task")

    async def sessions_waiting_on_locks(expected: int) -> None:
        deadline = asyncio.get_running_loop().time() + 10
        while True:
            # Own autocommit connection: inside a transaction pg_stat_activity is frozen.
            async with await psycopg.AsyncConnection.connect(database_url) as watcher:
                cursor = await watcher.execute(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
                row = await cursor.fetchone()
            if row is not None and row[0] >= expected:
                return
            assert asyncio.get_running_loop().time() < deadline, "write never blocked"
            await asyncio.sleep(0.02)

    try:
        ours = make_async_saver(pool)
        slow = asyncio.create_task(write(ours, "slow"))
        await sessions_waiting_on_locks(1)
        await asyncio.wait_for(write(ours, "fast"), timeout=5)  # not queued behind "slow"
        assert not slow.done()

        stock = AsyncPostgresSaver(pool)  # one lock for the whole instance
        stock_slow = asyncio.create_task(write(stock, "slow"))
        await sessions_waiting_on_locks(2)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(write(stock, "fast2"), timeout=1)
    finally:
        await slow_thread_lock.release()
    await asyncio.wait_for(asyncio.gather(slow, stock_slow), timeout=10)


async def test_open_async_saver_sets_up_a_fresh_database(fresh_database_url: str) -> None:
    async with open_async_saver(fresh_database_url) as saver:
        graph = build([]).compile(checkpointer=saver)
        result = await graph.ainvoke({"steps": []}, config("t1"), durability="sync")
    assert result["steps"] == ["plan", "write", "publish"]

    async with open_async_saver(fresh_database_url, setup=False) as saver:
        saved = await saver.aget_tuple(config("t1"))
    assert saved is not None


def test_open_saver_runs_a_sync_graph(fresh_database_url: str) -> None:
    runs: list[str] = []
    with open_saver(fresh_database_url) as saver:
        graph = build(runs).compile(checkpointer=saver)
        graph.invoke({"steps": []}, config("t1"), durability="sync")
        state = graph.get_state(config("t1"))
    assert state.values["steps"] == ["plan", "write", "publish"]
    assert runs == ["plan", "write", "publish"]


class Scalars(TypedDict):
    value: Any


def _scalar_graph() -> StateGraph[Scalars]:
    builder = StateGraph(Scalars)
    builder.add_node("keep", lambda state: {"value": state["value"]})
    builder.add_edge(START, "keep")
    builder.add_edge("keep", END)
    return builder


@pytest.mark.parametrize(
    "value",
    [2**63 - 1, "naïve café ✓", -0.5, None],
    ids=["largest int", "non-ascii", "float", "none"],
)
async def test_scalar_state_values_come_back_as_stock_saves_them(
    pool: AsyncPool, value: Any
) -> None:
    # primitive values live in the checkpoint's JSON, which our saver encodes faster than
    # stock: what it cannot encode the fast way must still come back exactly
    graph = _scalar_graph().compile(checkpointer=make_async_saver(pool))
    thread: RunnableConfig = {"configurable": {"thread_id": f"scalar-{value!r}"}}
    await graph.ainvoke({"value": value}, thread, durability="sync")
    stock = _scalar_graph().compile(checkpointer=AsyncPostgresSaver(pool))  # type: ignore[arg-type]
    for reader in (graph, stock):
        assert (await reader.aget_state(thread)).values == {"value": value}


async def test_a_nan_state_value_is_refused_as_stock_refuses_it(pool: AsyncPool) -> None:
    # JSON has no NaN: the server refuses stock's checkpoint; ours must not store null instead
    thread: RunnableConfig = {"configurable": {"thread_id": "nan"}}
    for saver in (make_async_saver(pool), AsyncPostgresSaver(pool)):  # type: ignore[arg-type]
        graph = _scalar_graph().compile(checkpointer=saver)
        with pytest.raises(psycopg.DataError):
            await graph.ainvoke({"value": float("nan")}, thread, durability="sync")
