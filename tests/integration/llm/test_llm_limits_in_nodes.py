"""JournaledChatOpenAI and the fleet-wide LLM limits, in one process: real Postgres, real HTTP.

A request sent from a durable node holds a slot of its model's limits while in flight and gives
it back however the call ends; an answer read back from the journal takes no slot at all.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, TypedDict

import httpx
import psycopg
import pytest
from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.errors import GraphBubbleUp
from langgraph.graph import END, START, StateGraph
from pydantic import BaseModel

from agent_graph import Settings, open_runtime
from agent_graph.llm import JournaledChatOpenAI, LlmLimiter, llm_limits, set_llm_limit
from agent_graph.provider import BackgroundProvider
from checkpointers import AsyncPool

MODEL = "gpt-4o-mini"


class CutOff(GraphBubbleUp):
    """Ends the run in the middle of a node, leaving it pending (as a crash would)."""


class Outline(BaseModel):
    title: str
    points: list[str]


class Talk(TypedDict, total=False):
    topic: str
    text: str


def one_node(ask: Any) -> StateGraph[Any, Any, Any, Any]:
    builder: StateGraph[Any, Any, Any, Any] = StateGraph(Talk)
    builder.add_node("ask", ask)
    builder.add_edge(START, "ask")
    builder.add_edge("ask", END)
    return builder


@pytest.fixture
def sent(http_client: httpx.AsyncClient) -> list[float]:
    """Times at which chat requests left through ``http_client``."""
    times: list[float] = []

    async def on_request(request: httpx.Request) -> None:
        times.append(time.time())

    http_client.event_hooks["request"] = [on_request]
    return times


async def in_flight(pool: AsyncPool) -> list[int]:
    return [usage.in_flight for usage in await llm_limits(pool)]


async def test_a_journal_hit_takes_no_slot(
    database_url: str, provider: BackgroundProvider, llm: JournaledChatOpenAI
) -> None:
    runs = 0

    async def ask(state: Talk, config: RunnableConfig) -> Talk:
        nonlocal runs
        runs += 1
        prompt = [HumanMessage(f"Write about {state['topic']}.")]
        plain = await llm.ainvoke(prompt, config)
        outline = await llm.with_structured_output(Outline, method="json_schema").ainvoke(
            [HumanMessage(f"Outline {state['topic']}.")], config
        )
        streamed = [str(c.content) async for c in llm.astream([*prompt, plain], config)]
        if runs == 1:
            raise CutOff()
        assert isinstance(outline, Outline)
        return {"text": f"{plain.content} {outline.title} {''.join(streamed)}"}

    async with open_runtime(Settings(database_url=database_url)) as runtime:
        runner = runtime.runner(one_node(ask), name="talks")
        with pytest.raises(CutOff):
            await runner.graph.ainvoke({"topic": "tides"}, runner.config("t1"))
        assert provider.stats()["chat_completions"] == 3

        # The fleet is at its limit: the one slot and the one token of the minute are taken.
        await set_llm_limit(runtime.pool, MODEL, max_concurrent=1, rpm=1, burst=1)
        async with LlmLimiter(runtime.pool).acquire(MODEL, max_wait=5):
            assert await in_flight(runtime.pool) == [1]
            # a call that asked for a slot would wait a minute: the replay must not
            final = await asyncio.wait_for(runner.graph.ainvoke(None, runner.config("t1")), 20)
            assert await in_flight(runtime.pool) == [1], "the replay held no lease"

    assert final["text"]
    assert runs == 2
    assert provider.stats()["chat_completions"] == 3, "the three answers were read back"
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cursor = await conn.execute(
            "SELECT kind, count(*) FROM agent_graph_events WHERE kind LIKE 'llm_%%' GROUP BY kind"
        )
        assert dict(await cursor.fetchall()) == {"llm_call": 3, "llm_replayed": 3}


async def test_a_limit_set_here_applies_to_the_next_call(
    database_url: str, provider: BackgroundProvider, llm: JournaledChatOpenAI, sent: list[float]
) -> None:
    async def ask(state: Talk, config: RunnableConfig) -> Talk:
        reply = await llm.ainvoke([HumanMessage(f"Describe {state['topic']}.")], config)
        return {"text": str(reply.content)}

    async with open_runtime(Settings(database_url=database_url)) as runtime:
        runner = runtime.runner(one_node(ask), name="talks")
        first = await runner.start("free", {"topic": "rivers"})  # no limit: remembered as such
        await set_llm_limit(runtime.pool, MODEL, rpm=60, burst=1)
        taken_after = time.time()
        async with LlmLimiter(runtime.pool).acquire(MODEL, max_wait=5):
            pass  # the bucket's only token: the next one is due a second later
        second = await runner.start("paced", {"topic": "lakes"})

    assert first.status == second.status == "completed"
    assert len(sent) == 2
    assert sent[1] >= taken_after + 1.0, "the call waited for the next token"


async def test_the_slot_is_given_back_on_error_and_on_cancellation(
    database_url: str, provider: BackgroundProvider, llm: JournaledChatOpenAI
) -> None:
    async def ask(state: Talk, config: RunnableConfig) -> Talk:
        reply = await llm.ainvoke([HumanMessage(f"Explain {state['topic']}.")], config)
        return {"text": str(reply.content)}

    async with open_runtime(Settings(database_url=database_url)) as runtime:
        runner = runtime.runner(one_node(ask), name="talks")
        await set_llm_limit(runtime.pool, MODEL, max_concurrent=1)

        provider.set_faults("chat:bad_request")  # fatal: no retry
        failed = await runner.start("refused", {"topic": "storms"})
        assert failed.status != "completed"
        assert provider.stats()["chat_completions"] == 1
        assert await in_flight(runtime.pool) == [0], "the failed call gave its slot back"

        provider.set_faults("chat:timeout(60)")  # the provider never answers
        task = asyncio.create_task(runner.start("cancelled", {"topic": "fog"}))
        deadline = time.monotonic() + 30
        while await in_flight(runtime.pool) != [1]:
            assert time.monotonic() < deadline, "the call never took a slot"
            assert not task.done(), "the call ended without taking a slot"
            await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # the lease would last 180 s; given back, it is gone at once
        deadline = time.monotonic() + 10
        while await in_flight(runtime.pool) != [0]:
            assert time.monotonic() < deadline, "the cancelled call kept its slot"
            await asyncio.sleep(0.05)
