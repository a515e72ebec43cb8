"""A malformed graph input is refused before anything of the run is saved (Runner and direct).

Durable graphs on our Postgres saver, with :func:`validate_input_first` as ``langgraph dev``
serves them: the input is checked against the graph's input schema before the input checkpoint
is written, so a new thread stays empty and an existing thread keeps its checkpoints.
"""

from __future__ import annotations

from typing import Any, Literal

import pytest
from langgraph.graph.state import CompiledStateGraph
from pydantic import BaseModel, Field

from agent_graph import InvalidInput, Runtime, Settings, open_runtime
from agent_graph._errors import ValidationError
from agent_graph.examples import build_greeting_graph, linear_graph
from agent_graph.runtime import Runner, make_durable, validate_input_first
from agent_graph.runtime._allowlist import model_types

Durability = Literal["sync", "async", "exit"]


def config(thread_id: str) -> Any:
    return {"configurable": {"thread_id": thread_id}}


def compile_checked(
    runtime: Runtime, builder: Any, name: str
) -> CompiledStateGraph[Any, Any, Any, Any]:
    saver = runtime.saver.with_allowlist(model_types(builder))
    return validate_input_first(make_durable(builder).compile(checkpointer=saver, name=name))


STORED = {
    "checkpoints": "SELECT checkpoint_id AS k FROM checkpoints WHERE thread_id = %s",
    "checkpoint_writes": "SELECT checkpoint_id || task_id || idx AS k FROM checkpoint_writes "
    "WHERE thread_id = %s",
    "agent_graph_events": "SELECT kind || coalesce(node, '') AS k FROM agent_graph_events "
    "WHERE thread_id = %s",
}


async def stored(runtime: Runtime, thread_id: str) -> dict[str, list[Any]]:
    """Everything our database holds for a thread: checkpoints, their writes, node events."""
    found = {}
    async with runtime.pool.connection() as conn:
        for table, query in STORED.items():
            cursor = await conn.execute(query, (thread_id,))
            found[table] = sorted(row["k"] for row in await cursor.fetchall())
    return found


@pytest.mark.parametrize("durability", ["sync", "async", "exit"])
async def test_bad_input_on_a_new_thread_saves_nothing_and_runs_nothing(
    database_url: str, durability: Durability
) -> None:
    async with open_runtime(Settings(database_url=database_url)) as runtime:
        graph = compile_checked(runtime, build_greeting_graph(), "greeting")
        # the example's state accepts an empty name: only its input schema refuses it
        with pytest.raises(ValidationError) as info:
            await graph.ainvoke({"name": ""}, config("new"), durability=durability)
        assert await stored(runtime, "new") == {
            "checkpoints": [],
            "checkpoint_writes": [],
            "agent_graph_events": [],
        }
        assert (await graph.aget_state(config("new"))).created_at is None

        # the same thread then takes a good input
        result = await graph.ainvoke({"name": "ada"}, config("new"), durability=durability)
        assert result["message"] == "Hello, Ada! -- sent by a durable graph"

    error = info.value
    assert isinstance(error, InvalidInput)
    assert isinstance(error, ValueError)
    assert str(error).startswith("invalid GreetingRequest input: name: String should have")
    assert "the thread was left unchanged" in error.hint
    assert [e["loc"] for e in error.errors] == [("name",)]
    assert all("input" not in e for e in error.errors)  # no input values in logs or messages


@pytest.mark.parametrize("durability", ["sync", "async"])
async def test_bad_input_on_a_thread_with_checkpoints_leaves_them_untouched(
    database_url: str, durability: Durability
) -> None:
    async with open_runtime(Settings(database_url=database_url)) as runtime:
        graph = compile_checked(runtime, build_greeting_graph(), "greeting")
        await graph.ainvoke({"name": "ada"}, config("t"), durability=durability)
        before = await stored(runtime, "t")
        history = [s async for s in graph.aget_state_history(config("t"))]
        assert len(before["checkpoints"]) == len(history) >= 4

        for bad in ({"name": ""}, {"nom": "ada"}, {"name": "ada", "extra": 1}):
            with pytest.raises(ValidationError):
                await graph.ainvoke(bad, config("t"), durability=durability)
            # copies (``langgraph dev`` runs a copy of the graph per run) check as well
            with pytest.raises(ValidationError):
                await graph.copy().ainvoke(bad, config("t"), durability=durability)

        assert await stored(runtime, "t") == before
        assert [s async for s in graph.aget_state_history(config("t"))] == history


async def test_runner_records_a_bad_input_as_a_failed_run_and_saves_no_checkpoint(
    database_url: str,
) -> None:
    async with open_runtime(Settings(database_url=database_url)) as runtime:
        graph = compile_checked(runtime, build_greeting_graph(), "greeting")
        runner = Runner(graph, runtime.context, graph_name="greeting", heartbeat_seconds=None)
        status = await runner.start("bad-1", {"name": ""})
        saved = await stored(runtime, "bad-1")

    assert status.status == "failed"
    assert status.error is not None
    assert status.error["error_type"] == "ValidationError"
    assert "name:" in status.error["message"]
    assert status.checkpoint_id is None
    assert saved["checkpoints"] == saved["checkpoint_writes"] == []
    assert not any(kind.startswith("node_") for kind in saved["agent_graph_events"])


class Note(BaseModel):
    """A single-schema state: the input may update only some of its fields."""

    text: str = Field(min_length=1)
    words: int = 0
    summary: str = ""


def count(state: Note) -> dict[str, Any]:
    return {"words": len(state.text.split())}


def summarise(state: Note) -> dict[str, Any]:
    return {"summary": f"{state.words} words"}


async def test_with_the_state_as_input_schema_only_the_fields_given_are_checked(
    database_url: str,
) -> None:
    builder = linear_graph(Note, {"count": count, "summarise": summarise})
    async with open_runtime(Settings(database_url=database_url)) as runtime:
        graph = compile_checked(runtime, builder, "notes")
        await graph.ainvoke({"text": "two words"}, config("n"))
        before = await stored(runtime, "n")

        for bad in ({"text": ""}, {"words": "many"}):
            with pytest.raises(ValidationError) as info:
                await graph.ainvoke(bad, config("n"))
            [problem] = info.value.errors
            assert problem["loc"] == (next(iter(bad)),)
        assert await stored(runtime, "n") == before

        # an input naming only some fields is still a valid update of the thread's state
        result = await graph.ainvoke({"words": 7}, config("n"))
        assert result == {"text": "two words", "words": 2, "summary": "2 words"}
