"""Fencing: once another driver claims a thread, the old driver writes nothing more for it.

The takeover is a real claim on the run registry (what a second worker does), made while the
first driver's node is in the middle of its work; the first driver then tries to go on.
"""

from __future__ import annotations

import asyncio
from typing import Any, TypedDict

import psycopg
import pytest
from langgraph.graph import StateGraph

from agent_graph import Settings, effect, open_runtime
from agent_graph.examples import linear_graph
from checkpointers import EventLog, LeaseLost, RunRegistry


class Doc(TypedDict, total=False):
    text: str
    steps: list[str]


class Gate:
    """Holds a node until the test has taken the thread over."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.acted: list[str] = []


def build(gate: Gate, *, with_effect: bool) -> StateGraph[Any, Any, Any, Any]:
    async def first(state: Doc) -> Doc:
        return {"steps": ["first"]}

    async def held(state: Doc) -> Doc:
        gate.entered.set()
        await gate.release.wait()
        if with_effect:

            async def act(key: str) -> str:
                gate.acted.append(key)
                return "sent"

            await effect("notify", act, content={"text": state["text"]})
        return {"steps": [*state["steps"], "held"]}

    async def last(state: Doc) -> Doc:
        return {"steps": [*state["steps"], "last"]}

    return linear_graph(Doc, {"first": first, "held": held, "last": last})


def rows(database_url: str, query: str, thread_id: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(query, (thread_id,)).fetchall()  # type: ignore[arg-type]


CHECKPOINTS = "SELECT checkpoint_id FROM checkpoints WHERE thread_id = %s ORDER BY checkpoint_id"
WRITES = "SELECT task_id, idx FROM checkpoint_writes WHERE thread_id = %s ORDER BY task_id, idx"
EVENTS = "SELECT id, kind, owner FROM agent_graph_events WHERE thread_id = %s ORDER BY id"
EFFECTS = "SELECT key FROM agent_graph_effects WHERE thread_id = %s"


@pytest.mark.parametrize("with_effect", [False, True], ids=["checkpoint", "effect"])
async def test_a_taken_over_driver_writes_nothing_more(
    database_url: str, with_effect: bool
) -> None:
    gate = Gate()
    async with open_runtime(Settings(database_url=database_url)) as runtime:
        runner = runtime.runner(build(gate, with_effect=with_effect), name="docs")
        driving = asyncio.create_task(runner.start("doc-1", {"text": "hello", "steps": []}))
        await asyncio.wait_for(gate.entered.wait(), timeout=30)

        # another worker claims the thread while "held" runs: a new lease
        claim = await RunRegistry(runtime.pool).claim("doc-1", "other-host:4242")
        assert claim.previous.owner == runner.ctx.owner
        before = [
            rows(database_url, query, "doc-1") for query in (CHECKPOINTS, WRITES, EVENTS, EFFECTS)
        ]
        gate.release.set()
        with pytest.raises(LeaseLost) as raised:
            await asyncio.wait_for(driving, timeout=30)
        after = [
            rows(database_url, query, "doc-1") for query in (CHECKPOINTS, WRITES, EVENTS, EFFECTS)
        ]
        run = await runner.ctx.runs.get("doc-1")

    assert "taken over" in str(raised.value)
    assert raised.value.hint is not None
    assert "stop driving" in raised.value.hint
    # no checkpoint, pending write, event or effect claim after the takeover
    assert after == before
    assert gate.acted == []
    # the new owner's claim stands, and the old driver left no lease behind
    assert run is not None
    assert (run.owner, run.status, run.lease) == ("other-host:4242", "running", claim.lease)
    assert len(runner.ctx.leases) == 0


async def test_the_new_owner_resumes_and_finishes_the_thread(database_url: str) -> None:
    gate = Gate()
    async with open_runtime(Settings(database_url=database_url)) as runtime:
        runner = runtime.runner(build(gate, with_effect=True), name="docs")
        driving = asyncio.create_task(runner.start("doc-2", {"text": "hi", "steps": []}))
        await asyncio.wait_for(gate.entered.wait(), timeout=30)
        # a second runtime (another worker) takes the thread over and drives it to the end
        async with open_runtime(Settings(database_url=database_url)) as other:
            other.context.owner = "other-host:1"
            successor_gate = Gate()
            successor = other.runner(build(successor_gate, with_effect=True), name="docs")
            successor_gate.release.set()
            finished = await successor.resume("doc-2", takeover=True)
        gate.release.set()
        with pytest.raises(LeaseLost):
            await asyncio.wait_for(driving, timeout=30)
        final = await runner.status("doc-2")

    assert finished.status == "completed"
    assert finished.result["steps"] == ["first", "held", "last"]
    assert final.status == "completed"
    # the effect ran once, by the new owner; the frozen driver's attempt was refused
    assert len(successor_gate.acted) == 1
    assert gate.acted == []


async def test_writers_without_a_lease_are_not_fenced(database_url: str) -> None:
    """An operator's command (no lease held) may still record events for a driven thread."""
    gate = Gate()
    async with open_runtime(Settings(database_url=database_url)) as runtime:
        runner = runtime.runner(build(gate, with_effect=False), name="docs")
        driving = asyncio.create_task(runner.start("doc-3", {"text": "x", "steps": []}))
        await asyncio.wait_for(gate.entered.wait(), timeout=30)
        event_id = await EventLog(runtime.pool).append("doc-3", "operator_note", owner="cli")
        gate.release.set()
        status = await asyncio.wait_for(driving, timeout=30)
        kinds = [e.kind for e in await runner.ctx.events.list("doc-3")]

    assert event_id > 0
    assert status.status == "completed"
    assert "operator_note" in kinds
