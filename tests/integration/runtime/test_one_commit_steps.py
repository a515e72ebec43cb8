"""A durable step is one transaction: a task's writes, its events and the checkpoint that
follows them commit together (the saver holds the writes until that checkpoint).

Transactions are told apart by the ``xmin`` system column of the rows they inserted.
"""

from __future__ import annotations

import asyncio
import operator
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypedDict

import psycopg
from langgraph.graph import END, START, StateGraph

from agent_graph import Settings, effect, open_runtime
from agent_graph.examples import linear_graph


class Doc(TypedDict, total=False):
    text: str
    steps: Annotated[list[str], operator.add]


Node = Callable[[Doc], Awaitable[Doc]]


def side_by_side(fast: Node, slow: Node) -> StateGraph[Any, Any, Any, Any]:
    """Two nodes in one superstep (both start from START)."""
    builder: StateGraph[Any, Any, Any, Any] = StateGraph(Doc)
    builder.add_node("fast", fast)
    builder.add_node("slow", slow)
    for name in ("fast", "slow"):
        builder.add_edge(START, name)
        builder.add_edge(name, END)
    return builder


def xmins(database_url: str, thread_id: str) -> dict[str, Any]:
    with psycopg.connect(database_url) as conn:
        checkpoints = conn.execute(
            "SELECT checkpoint_id, parent_checkpoint_id, xmin::text FROM checkpoints "
            "WHERE thread_id = %s ORDER BY checkpoint_id",
            (thread_id,),
        ).fetchall()
        writes = conn.execute(
            "SELECT checkpoint_id, task_id, xmin::text FROM checkpoint_writes WHERE thread_id = %s",
            (thread_id,),
        ).fetchall()
        events = conn.execute(
            "SELECT kind, task_id, xmin::text FROM agent_graph_events WHERE thread_id = %s",
            (thread_id,),
        ).fetchall()
        effects = conn.execute(
            "SELECT key, xmin::text FROM agent_graph_effects WHERE thread_id = %s", (thread_id,)
        ).fetchall()
    return {"checkpoints": checkpoints, "writes": writes, "events": events, "effects": effects}


async def test_each_step_commits_writes_events_and_checkpoint_together(database_url: str) -> None:
    async def step(state: Doc) -> Doc:
        async def act(key: str) -> str:
            return f"done {len(state['steps'])}"

        await effect("note", act, content={"n": len(state["steps"])})
        return {"steps": ["x"]}

    builder = linear_graph(Doc, {f"s{i}": step for i in range(5)})
    async with open_runtime(Settings(database_url=database_url)) as runtime:
        status = await runtime.runner(builder, name="docs").start("one", {"text": "t", "steps": []})
    assert status.status == "completed"
    rows = xmins(database_url, "one")

    by_parent = {parent: xmin for _, parent, xmin in rows["checkpoints"] if parent}
    task_writes = [(cp, task, xmin) for cp, task, xmin in rows["writes"]]
    assert len(task_writes) >= 5
    for checkpoint_id, _task, xmin in task_writes:
        # the writes of a step's task went out with the checkpoint that applies them
        assert by_parent[checkpoint_id] == xmin
    checkpoint_xmins = set(by_parent.values())
    completed = [xmin for kind, _, xmin in rows["events"] if kind == "node_completed"]
    performed = [xmin for kind, _, xmin in rows["events"] if kind == "effect_performed"]
    assert len(completed) == len(performed) == 5
    assert set(completed) <= checkpoint_xmins
    # each effect's record (and its event) rides in its node's checkpoint transaction
    assert set(performed) <= checkpoint_xmins


async def test_a_finished_sibling_is_saved_when_the_other_task_fails(database_url: str) -> None:
    """A superstep ending without a checkpoint does not lose its finished tasks' writes."""
    runs = {"fast": 0, "slow": 0}

    async def fast(state: Doc) -> Doc:
        runs["fast"] += 1
        return {"steps": ["fast"]}

    async def slow(state: Doc) -> Doc:
        runs["slow"] += 1
        if runs["slow"] == 1:
            raise PermissionError("forbidden: not yet")  # fatal: dead letter
        return {"steps": ["slow"]}

    builder = side_by_side(fast, slow)
    async with open_runtime(Settings(database_url=database_url)) as runtime:
        runner = runtime.runner(builder, name="pair")
        failed = await runner.start("pair", {"text": "t", "steps": []})
        resumed = await runner.resume("pair")
    assert failed.status == "dead_lettered"
    assert resumed.status == "completed"
    assert sorted(resumed.result["steps"]) == ["fast", "slow"]
    assert runs == {"fast": 1, "slow": 2}, "the finished sibling did not run again"


async def test_held_writes_are_saved_within_the_hold_time(database_url: str) -> None:
    """While a slow sibling still runs, a finished task's writes reach the database anyway."""
    release = asyncio.Event()

    async def fast(state: Doc) -> Doc:
        return {"steps": ["fast"]}

    async def slow(state: Doc) -> Doc:
        await release.wait()
        return {"steps": ["slow"]}

    builder = side_by_side(fast, slow)

    def fast_saved() -> bool:
        rows = xmins(database_url, "held")
        return any(kind == "node_completed" for kind, _, _ in rows["events"])

    async with open_runtime(Settings(database_url=database_url)) as runtime:
        runner = runtime.runner(builder, name="held")
        driving = asyncio.create_task(runner.start("held", {"text": "t", "steps": []}))
        deadline = asyncio.get_running_loop().time() + 20
        while not fast_saved():
            assert asyncio.get_running_loop().time() < deadline, "fast's writes never saved"
            await asyncio.sleep(0.02)
        assert not driving.done()
        release.set()
        status = await asyncio.wait_for(driving, 30)
    assert status.status == "completed"
