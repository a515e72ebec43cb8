"""The LLM journal on a user's graph: real ChatOpenAI over HTTP, real Postgres.

A node that runs again (after a crash, a stop or a budget pause) reads the answers it already
received back from the journal; the provider is not asked, and not paid, twice. Here the node
is cut off by a ``GraphBubbleUp`` of its own (what a stop request or a budget pause raise): the
run ends with the node pending and its writes unsaved, as after a crash.
"""

from __future__ import annotations

from typing import Any, TypedDict

import psycopg
import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.errors import GraphBubbleUp
from langgraph.graph import END, START, StateGraph
from pydantic import BaseModel

from agent_graph import Settings, open_runtime
from agent_graph.llm import JournaledChatOpenAI, LlmJournal, PriceTable, thread_cost
from agent_graph.provider import BackgroundProvider
from policies import Policies, Retryable, RetryPolicy


class CutOff(GraphBubbleUp):
    """Ends the run in the middle of a node, leaving the node pending (as a crash would)."""


class Plan(BaseModel):
    title: str
    points: list[str]


class Answers(TypedDict, total=False):
    topic: str
    plain: str
    again: str
    plan: dict[str, Any]
    streamed: str


def asking_graph(llm: JournaledChatOpenAI, seen: list[Answers]) -> StateGraph[Any, Any, Any, Any]:
    """One node making a plain call twice, a structured call and a streamed call, then cut off
    on its first execution (it runs again from its start when the thread is resumed)."""

    async def ask(state: Answers, config: RunnableConfig) -> Answers:
        prompt = [HumanMessage(f"Write one sentence about {state['topic']}.")]
        plain = await llm.ainvoke(prompt, config)
        again = await llm.ainvoke(prompt, config)
        structured = llm.with_structured_output(Plan, method="json_schema")
        plan = await structured.ainvoke(
            [HumanMessage(f"Plan an article about {state['topic']}.")], config
        )
        assert isinstance(plan, Plan)
        pieces = [
            str(chunk.content)
            async for chunk in llm.astream(
                [HumanMessage(f"Give a headline about {state['topic']}.")], config
            )
        ]
        answers: Answers = {
            "plain": str(plain.content),
            "again": str(again.content),
            "plan": plan.model_dump(),
            "streamed": "".join(pieces),
        }
        seen.append(answers)
        if len(seen) == 1:
            raise CutOff()
        return answers

    builder: StateGraph[Any, Any, Any, Any] = StateGraph(Answers)
    builder.add_node("ask", ask)
    builder.add_edge(START, "ask")
    builder.add_edge("ask", END)
    return builder


async def kinds_of_events(database_url: str, thread_id: str) -> list[str]:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cursor = await conn.execute(
            "SELECT kind FROM agent_graph_events WHERE thread_id = %s AND kind LIKE 'llm_%%' "
            "ORDER BY id",
            (thread_id,),
        )
        return [row[0] for row in await cursor.fetchall()]


@pytest.mark.parametrize("stream_mode", ["values", "messages"])
async def test_node_run_again_reads_its_answers_back(
    database_url: str, provider: BackgroundProvider, llm: JournaledChatOpenAI, stream_mode: str
) -> None:
    seen: list[Answers] = []
    async with open_runtime(Settings(database_url=database_url)) as runtime:
        runner = runtime.runner(asking_graph(llm, seen), name="answers")
        config = runner.config("t1")
        tokens: list[str] = []

        async def drive(graph_input: Any) -> None:
            # "messages" is how LangGraph Studio runs a graph: model calls go through _astream
            async for item in runner.graph.astream(
                graph_input, config, stream_mode=stream_mode, durability="sync"
            ):
                if stream_mode == "messages":
                    tokens.append(str(item[0].content))

        with pytest.raises(CutOff):
            await drive({"topic": "solar panels"})
        first_stats = provider.stats()
        snapshot = await runner.graph.aget_state(config)
        assert snapshot.next == ("ask",), "the node is pending"
        streamed_first = "".join(tokens)
        tokens.clear()

        await drive(None)
        final = (await runner.graph.aget_state(config)).values
        cost = await thread_cost(runtime.pool, "t1")
        entries = await LlmJournal(runtime.pool).entries("t1")

    assert first_stats["chat_completions"] == 4
    assert provider.stats()["chat_completions"] == 4, "the second execution asked nobody"
    assert len(seen) == 2
    assert seen[1] == seen[0], "replayed answers are the answers first received"
    assert final["plain"] == final["again"] == seen[0]["plain"]
    assert Plan.model_validate(final["plan"]).points
    if stream_mode == "messages":
        assert "".join(tokens) == streamed_first, "a replay still streams the text to the UI"

    # The two identical plain requests are two entries (occurrence 0 and 1), in one node.
    assert [(e.node, e.occurrence) for e in entries] == [
        ("ask", 0),
        ("ask", 1),
        ("ask", 0),
        ("ask", 0),
    ]
    assert len({e.request_hash for e in entries}) == 3
    assert await kinds_of_events(database_url, "t1") == ["llm_call"] * 4 + ["llm_replayed"] * 4

    stats = provider.stats()
    price = PriceTable.standard().price_of("gpt-4o-mini")
    assert (price.prompt, price.completion) == (0.15, 0.60)
    assert cost.calls == 4
    assert cost.replayed_calls == 4
    assert cost.prompt_tokens == stats["prompt_tokens"]
    assert cost.completion_tokens == stats["completion_tokens"]
    expected = price.cost(stats["prompt_tokens"], stats["completion_tokens"])
    assert cost.usd == pytest.approx(expected, rel=1e-9)
    assert cost.usd > 0
    assert cost.saved_usd == pytest.approx(cost.usd, rel=1e-9), "every call was replayed once"
    assert set(cost.per_node) == {"ask"}
    assert cost.per_node["ask"].calls == 4
    assert cost.per_node["ask"].usd == pytest.approx(cost.usd)
    assert sum(e.usd for e in entries) == pytest.approx(cost.usd)


async def test_the_api_key_is_never_stored(
    database_url: str, provider: BackgroundProvider, llm: JournaledChatOpenAI, api_key: str
) -> None:
    async with open_runtime(Settings(database_url=database_url)) as runtime:
        runner = runtime.runner(asking_graph(llm, []), name="answers")
        with pytest.raises(CutOff):
            await runner.graph.ainvoke({"topic": "wind"}, runner.config("k1"), durability="sync")
        assert (await thread_cost(runtime.pool, "k1")).calls == 4
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cursor = await conn.execute(
            "SELECT coalesce(string_agg(j::text, ' '), '') FROM agent_graph_llm_journal AS j"
        )
        journal = (await cursor.fetchone() or [""])[0]
        cursor = await conn.execute(
            "SELECT coalesce(string_agg(e::text, ' '), '') FROM agent_graph_events AS e"
        )
        events = (await cursor.fetchone() or [""])[0]
    assert "gpt-4o-mini" in journal, "the request is kept for diagnosis"
    assert "wind" in journal
    for text in (journal, events):
        assert api_key not in text
        assert "journal-test-key" not in text


async def test_a_failed_attempt_asks_again_and_both_calls_are_billed(
    database_url: str, provider: BackgroundProvider, llm: JournaledChatOpenAI
) -> None:
    """A retry exists to get another answer: a failed attempt's answers are not reused."""
    attempts: list[str] = []

    async def draft(state: Answers, config: RunnableConfig) -> Answers:
        reply = await llm.ainvoke([HumanMessage(f"Draft a line on {state['topic']}.")], config)
        attempts.append(str(reply.content))
        if len(attempts) == 1:
            raise Retryable("the draft was too short")
        return {"plain": str(reply.content)}

    builder: StateGraph[Any, Any, Any, Any] = StateGraph(Answers)
    builder.add_node("draft", draft)
    builder.add_edge(START, "draft")
    builder.add_edge("draft", END)
    fast = Policies.default().override(
        kind="tool", policy=RetryPolicy(attempts=3, initial=0.01, cap=0.02, jitter=0.0)
    )
    async with open_runtime(Settings(database_url=database_url), policies=fast) as runtime:
        runner = runtime.runner(builder, name="drafts")
        status = await runner.start("r1", {"topic": "tides"})
        cost = await thread_cost(runtime.pool, "r1")
        entries = await LlmJournal(runtime.pool).entries("r1")

    assert status.status == "completed"
    assert len(attempts) == 2
    assert provider.stats()["chat_completions"] == 2
    assert [e.attempt for e in entries] == [1, 2]
    assert cost.calls == 2
    assert cost.replayed_calls == 0
    assert cost.usd == pytest.approx(sum(e.usd for e in entries))
    assert cost.usd == pytest.approx(2 * entries[0].usd), "retries are paid, and counted"


async def test_outside_durable_nodes_it_is_plain_chatopenai(
    database_url: str, provider: BackgroundProvider, llm: JournaledChatOpenAI
) -> None:
    first = await llm.ainvoke("Say something about rivers.")
    second = await llm.ainvoke("Say something about rivers.")
    assert isinstance(first, AIMessage)
    assert first.usage_metadata is not None
    assert first.content == second.content
    assert provider.stats()["chat_completions"] == 2, "no journal: both calls were sent"
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cursor = await conn.execute("SELECT count(*) FROM agent_graph_llm_journal")
        assert (await cursor.fetchone() or [None])[0] == 0


@pytest.mark.parametrize("stream_mode", ["values", "messages"])
async def test_tool_calls_are_replayed_with_their_ids(
    database_url: str, provider: BackgroundProvider, llm: JournaledChatOpenAI, stream_mode: str
) -> None:
    def lookup_weather(city: str) -> str:
        """Look up the weather of a city."""
        return "sunny"

    calls: list[list[dict[str, Any]]] = []

    async def plan(state: Answers, config: RunnableConfig) -> Answers:
        model = llm.bind_tools([lookup_weather], tool_choice="lookup_weather")
        reply = await model.ainvoke([HumanMessage(f"Weather in {state['topic']}?")], config)
        assert isinstance(reply, AIMessage)
        calls.append([dict(call) for call in reply.tool_calls])
        if len(calls) == 1:
            raise CutOff()
        return {"plain": str(reply.tool_calls[0]["args"])}

    builder: StateGraph[Any, Any, Any, Any] = StateGraph(Answers)
    builder.add_node("plan", plan)
    builder.add_edge(START, "plan")
    builder.add_edge("plan", END)
    async with open_runtime(Settings(database_url=database_url)) as runtime:
        runner = runtime.runner(builder, name="tools")
        config = runner.config("w1")
        with pytest.raises(CutOff):
            async for _ in runner.graph.astream(
                {"topic": "Lisbon"}, config, stream_mode=stream_mode, durability="sync"
            ):
                pass
        async for _ in runner.graph.astream(
            None, config, stream_mode=stream_mode, durability="sync"
        ):
            pass
        final = (await runner.graph.aget_state(config)).values

    assert provider.stats()["chat_completions"] == 1
    assert len(calls) == 2
    assert calls[1] == calls[0]
    assert calls[0][0]["name"] == "lookup_weather"
    assert calls[0][0]["id"]
    assert final["plain"] == str(calls[0][0]["args"])
