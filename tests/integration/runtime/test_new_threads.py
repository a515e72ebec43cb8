"""A brand-new thread starts in one statement; any other thread takes the general path.

The runner registers, claims and starts a new thread in one transaction (told apart by the
``xmin`` of the rows it wrote) and reads the thread's checkpoint only once, when LangGraph loads
it: an uninterrupted stream tells that the run completed. A thread that a plain ``invoke`` wrote
(checkpoints, no run) keeps the runner's usual answers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypedDict

import pytest
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.constants import TAG_HIDDEN
from langgraph.graph import StateGraph
from langgraph.types import interrupt

from agent_graph import Runtime, Settings, ThreadUnfinished, open_runtime
from agent_graph.examples import linear_graph
from agent_graph.runtime import Runner, make_durable


class Doc(TypedDict, total=False):
    text: str
    steps: list[str]


def build(seen: dict[str, Any] | None = None, *, runtime: Runtime | None = None) -> Any:
    """first -> second -> third; ``first`` records the run and events as the database has them."""

    async def first(state: Doc) -> Doc:
        if seen is not None and runtime is not None:
            async with runtime.pool.connection() as conn:
                cursor = await conn.execute(
                    "SELECT status, owner, lease, heartbeat_at, xmin::text AS xmin"
                    " FROM agent_graph_runs WHERE thread_id = 'new'"
                )
                seen["run"] = await cursor.fetchone()
                cursor = await conn.execute(
                    "SELECT kind, owner, data, xmin::text AS xmin FROM agent_graph_events"
                    " WHERE thread_id = 'new' ORDER BY id"
                )
                seen["events"] = await cursor.fetchall()
        return {"steps": [*state.get("steps", []), "first"]}

    async def second(state: Doc) -> Doc:
        return {"steps": [*state["steps"], "second"]}

    async def third(state: Doc) -> Doc:
        return {"steps": [*state["steps"], "third"]}

    return linear_graph(Doc, {"first": first, "second": second, "third": third})


@contextmanager
def counting_reads() -> Iterator[list[str]]:
    """Records each checkpoint read that reaches the database (stock's read, which our saver
    calls; the real reads still happen)."""
    real = AsyncPostgresSaver.aget_tuple
    reads: list[str] = []

    async def aget_tuple(self: AsyncPostgresSaver, config: Any) -> Any:
        reads.append(config["configurable"]["thread_id"])
        return await real(self, config)

    AsyncPostgresSaver.aget_tuple = aget_tuple  # type: ignore[method-assign]
    try:
        yield reads
    finally:
        AsyncPostgresSaver.aget_tuple = real  # type: ignore[method-assign]


async def test_a_new_thread_is_registered_claimed_and_started_in_one_transaction(
    database_url: str,
) -> None:
    seen: dict[str, Any] = {}
    async with open_runtime(Settings(database_url=database_url)) as runtime:
        runner = runtime.runner(build(seen, runtime=runtime), name="docs", heartbeat_seconds=3600)
        status = await runner.start("new", {"text": "hello"})
        run = await runner.ctx.runs.get("new")
        events = await runner.ctx.events.list("new")
        owner = runner.ctx.owner

    assert status.status == "completed"
    assert status.result["steps"] == ["first", "second", "third"]
    # as the first node saw it: claimed by this process with the first lease, and started
    run_then, events_then = seen["run"], seen["events"]
    assert (run_then["status"], run_then["owner"], run_then["lease"]) == ("running", owner, 1)
    assert run_then["heartbeat_at"] is not None
    [started] = events_then
    assert (started["kind"], started["owner"], started["data"]) == (
        "run_started",
        owner,
        {"graph": "docs"},
    )
    assert started["xmin"] == run_then["xmin"], "the run and its start are one transaction"
    # and in the end, completed under that same lease
    assert run is not None
    assert (run.status, run.owner, run.lease, run.input) == (
        "completed",
        owner,
        1,
        {"text": "hello"},
    )
    kinds = [e.kind for e in events]
    assert kinds[0] == "run_started"
    assert kinds[-1] == "run_completed"
    assert kinds.count("node_completed") == 3


async def test_a_new_thread_reads_no_checkpoint(database_url: str) -> None:
    async with open_runtime(Settings(database_url=database_url)) as runtime:
        runner = runtime.runner(build(), name="docs", heartbeat_seconds=3600)
        with counting_reads() as reads:
            status = await runner.start("new", {"text": "hello"}, describe=False)
            assert reads == []  # the start statement made sure it has none; no read back
            completed = await runner.status("new")
            assert reads == ["new"]  # a later read goes to the database

    assert status.status == "completed"
    assert completed.status == "completed"
    assert completed.completed_nodes == ["first", "second", "third"]


async def test_a_thread_completed_by_a_plain_invoke_is_not_run_again(database_url: str) -> None:
    async with open_runtime(Settings(database_url=database_url)) as runtime:
        runner = runtime.runner(build(), name="docs")
        done = await runner.graph.ainvoke({"text": "plain"}, runner.config("t"), durability="sync")
        status = await runner.start("t", {"text": "other input"})
        run = await runner.ctx.runs.get("t")
        events = await runner.ctx.events.list("t")

    assert done["steps"] == ["first", "second", "third"]
    assert status.status == "completed"
    assert status.result == {"text": "plain", "steps": ["first", "second", "third"]}
    assert run is None
    assert "run_started" not in [e.kind for e in events]


async def test_a_thread_left_unfinished_by_a_plain_invoke_is_refused(database_url: str) -> None:
    async with open_runtime(Settings(database_url=database_url)) as runtime:
        runner = runtime.runner(build(), name="docs")
        config = runner.config("t")
        await runner.graph.ainvoke({"text": "plain"}, config, interrupt_before=["second"])
        with pytest.raises(ThreadUnfinished) as refused:
            await runner.start("t", {"text": "other input"})
        run = await runner.ctx.runs.get("t")
        state = await runner.graph.aget_state(config)

    assert refused.value.next_nodes == ("second",)
    assert run is None
    assert state.values == {"text": "plain", "steps": ["first"]}


async def test_a_thread_with_a_run_but_no_checkpoint_is_started_under_a_new_claim(
    database_url: str,
) -> None:
    """E.g. a run whose input was refused: the next start claims it again (a new lease)."""
    async with open_runtime(Settings(database_url=database_url)) as runtime:
        runner = runtime.runner(build(), name="docs")
        await runner.ctx.runs.create("t", "docs", {"text": "x"})
        status = await runner.start("t", {"text": "x"})
        run = await runner.ctx.runs.get("t")

    assert status.status == "completed"
    assert run is not None
    assert (run.status, run.lease) == ("completed", 1)


def interrupting() -> StateGraph[Any, Any, Any, Any]:
    async def ask(state: Doc) -> Doc:
        return {"text": interrupt({"question": state["text"]})}

    async def after(state: Doc) -> Doc:
        return {"steps": ["after"]}

    return linear_graph(Doc, {"ask": ask, "after": after})


@pytest.mark.parametrize(
    ("breakpoints", "expected"),
    [
        ({"interrupt_before": ["third"]}, "incomplete"),
        ({"interrupt_after": ["second"]}, "incomplete"),
        ({"interrupt_after": ["third"]}, "completed"),
    ],
    ids=["before", "after", "after-the-last"],
)
async def test_a_breakpoint_ends_the_run_as_the_state_tells(
    database_url: str, breakpoints: dict[str, list[str]], expected: str
) -> None:
    """A breakpoint stops the stream without an error: the state decides how the run ended."""
    async with open_runtime(Settings(database_url=database_url)) as runtime:
        graph = make_durable(build()).compile(checkpointer=runtime.saver, **breakpoints)
        runner = Runner(graph, runtime.context, graph_name="docs", heartbeat_seconds=None)
        status = await runner.start("t", {"text": "x"}, describe=False)
        run = await runner.ctx.runs.get("t")

    assert status.status == expected
    assert run is not None
    assert run.status == expected


@pytest.mark.parametrize("hidden", [False, True], ids=["shown", "hidden"])
async def test_an_interrupt_ends_the_run_waiting_for_a_person(
    database_url: str, hidden: bool
) -> None:
    """Also when the graph's tasks are hidden from the stream (their interrupts with them)."""
    async with open_runtime(Settings(database_url=database_url)) as runtime:
        graph = make_durable(interrupting()).compile(checkpointer=runtime.saver)
        if hidden:
            graph = graph.with_config(tags=[TAG_HIDDEN])
        runner = Runner(graph, runtime.context, graph_name="ask", heartbeat_seconds=None)
        status = await runner.start("t", {"text": "why?"}, describe=False)
        described = await runner.status("t")

    assert status.status == "waiting_for_human"
    assert described.status == "waiting_for_human"
    assert described.question == {"question": "why?"}
