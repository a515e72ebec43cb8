"""Per-thread budgets: a call that could exceed the budget is not made; raising it goes on."""

from __future__ import annotations

from typing import Any, TypedDict

import psycopg
import pytest
from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph

from agent_graph import Settings, article_request, open_content_agent, open_runtime
from agent_graph.llm import BudgetExceeded, JournaledChatOpenAI, LlmJournal, thread_cost
from agent_graph.provider import BackgroundProvider
from policies import ConfigurationError, DurableAgentError


class Essay(TypedDict, total=False):
    topic: str
    outline: str
    intro: str
    body: str


def essay_graph(llm: JournaledChatOpenAI) -> StateGraph[Any, Any, Any, Any]:
    """``outline`` makes one call; ``write`` makes two, so a budget can stop it half-way."""

    async def outline(state: Essay, config: RunnableConfig) -> Essay:
        reply = await llm.ainvoke([HumanMessage(f"Outline an essay on {state['topic']}.")], config)
        return {"outline": str(reply.content)}

    async def write(state: Essay, config: RunnableConfig) -> Essay:
        intro = await llm.ainvoke([HumanMessage(f"Write the intro on {state['topic']}.")], config)
        body = await llm.ainvoke([HumanMessage(f"Write the body on {state['topic']}.")], config)
        return {"intro": str(intro.content), "body": str(body.content)}

    builder: StateGraph[Any, Any, Any, Any] = StateGraph(Essay)
    builder.add_node("outline", outline)
    builder.add_node("write", write)
    builder.add_edge(START, "outline")
    builder.add_edge("outline", "write")
    builder.add_edge("write", END)
    return builder


async def event_data(database_url: str, thread_id: str, kind: str) -> list[dict[str, Any]]:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cursor = await conn.execute(
            "SELECT data FROM agent_graph_events WHERE thread_id = %s AND kind = %s ORDER BY id",
            (thread_id, kind),
        )
        return [row[0] for row in await cursor.fetchall()]


async def test_budget_below_one_call_makes_no_call_and_raising_it_completes(
    database_url: str, provider: BackgroundProvider, llm: JournaledChatOpenAI
) -> None:
    async with open_runtime(Settings(database_url=database_url)) as runtime:
        runner = runtime.runner(essay_graph(llm), name="essays")
        journal = LlmJournal(runtime.pool)
        config = runner.config("e1")
        await journal.set_budget("e1", 0.00001)
        assert await journal.get_budget("e1") == pytest.approx(0.00001)

        with pytest.raises(BudgetExceeded) as raised:
            await runner.graph.ainvoke({"topic": "tides"}, config, durability="sync")
        assert provider.stats()["chat_completions"] == 0, "the call was not made"
        assert (await runner.graph.aget_state(config)).next == ("outline",)
        paused = raised.value
        assert isinstance(paused, DurableAgentError)
        assert (paused.thread_id, paused.node, paused.spent) == ("e1", "outline", 0.0)
        assert paused.budget == pytest.approx(0.00001)
        assert paused.needed > paused.budget
        assert "--budget-usd" in paused.hint
        [stopped] = await event_data(database_url, "e1", "budget_exceeded")
        assert stopped["budget_usd"] == pytest.approx(0.00001)

        await journal.set_budget("e1", 1.0)
        final = await runner.graph.ainvoke(None, config, durability="sync")
        cost = await thread_cost(runtime.pool, "e1")

    assert all(final[field] for field in ("outline", "intro", "body"))
    assert provider.stats()["chat_completions"] == 3
    assert cost.calls == 3
    assert 0 < cost.usd < 1.0


async def test_pause_inside_a_node_resumes_without_paying_twice(
    database_url: str, provider: BackgroundProvider, llm: JournaledChatOpenAI
) -> None:
    async with open_runtime(Settings(database_url=database_url)) as runtime:
        runner = runtime.runner(essay_graph(llm), name="essays")
        journal = LlmJournal(runtime.pool)

        # An unlimited run of the same essay: what each call costs and is estimated at.
        baseline = await runner.graph.ainvoke(
            {"topic": "glaciers"}, runner.config("free"), durability="sync"
        )
        calls_of_one_essay = provider.stats()["chat_completions"]
        paid = [entry.usd for entry in await journal.entries("free")]
        estimates = [e["estimate_usd"] for e in await event_data(database_url, "free", "llm_call")]
        assert calls_of_one_essay == len(paid) == 3
        # enough for the outline and the intro, not for the body's estimate on top of them
        budget = paid[0] + paid[1] + estimates[2] - 1e-9
        assert paid[0] + estimates[1] <= budget

        provider.reset()
        config = runner.config("tight")
        await journal.set_budget("tight", budget)
        with pytest.raises(BudgetExceeded) as raised:
            await runner.graph.ainvoke({"topic": "glaciers"}, config, durability="sync")
        assert raised.value.node == "write"
        assert raised.value.spent == pytest.approx(paid[0] + paid[1])
        assert provider.stats()["chat_completions"] == 2
        assert (await runner.graph.aget_state(config)).next == ("write",)

        await journal.set_budget("tight", budget * 2)
        final = await runner.graph.ainvoke(None, config, durability="sync")
        cost = await thread_cost(runtime.pool, "tight")

    assert final == baseline
    assert provider.stats()["chat_completions"] == calls_of_one_essay, "the intro was replayed"
    assert cost.calls == 3
    assert cost.replayed_calls == 1
    assert cost.usd == pytest.approx(sum(paid))
    assert cost.saved_usd == pytest.approx(paid[1]), "the replayed intro"
    assert cost.per_node["write"].calls == 2
    assert cost.per_node["outline"].usd == pytest.approx(paid[0])


async def test_budgets_are_validated_and_removable(database_url: str) -> None:
    async with open_runtime(Settings(database_url=database_url)) as runtime:
        journal = LlmJournal(runtime.pool)
        assert await journal.get_budget("b1") is None
        await journal.set_budget("b1", 2.5)
        await journal.set_budget("b1", 3)
        assert await journal.get_budget("b1") == 3.0
        await journal.set_budget("b1", None)
        assert await journal.get_budget("b1") is None
        for bad in (-1.0, float("nan"), float("inf")):
            with pytest.raises(ConfigurationError):
                await journal.set_budget("b1", bad)
        empty = await thread_cost(runtime.pool, "b1")
    assert (empty.usd, empty.calls, empty.saved_usd, dict(empty.per_node)) == (0.0, 0, 0.0, {})


async def test_budget_below_one_article_pauses_the_content_agent(database_url: str) -> None:
    """The content agent (its ChatOpenAI is journaled) pauses; a raised budget completes it."""
    with BackgroundProvider() as provider:  # its own URL: langchain caches clients per URL
        settings = Settings(
            database_url=database_url,
            openai_api_key="offline-key",  # type: ignore[arg-type]
            openai_base_url=provider.openai_base_url,
            services_url=provider.base_url,
        )
        async with open_content_agent(settings) as agent:
            [free] = await agent.run(["solar panels"], thread_ids=["free"])
            assert free.status == "completed"
            article = await thread_cost(agent.runner.ctx.pool, "free")
            calls_of_one_article = provider.stats()["chat_completions"]
            assert article.calls == calls_of_one_article

            journal = LlmJournal(agent.runner.ctx.pool)
            graph, config = agent.runner.graph, agent.runner.config("tight")
            await journal.set_budget("tight", article.usd / 2)
            with pytest.raises(BudgetExceeded) as raised:
                await graph.ainvoke(article_request("solar panels"), config, durability="sync")
            paused = await thread_cost(agent.runner.ctx.pool, "tight")
            assert raised.value.budget == pytest.approx(article.usd / 2)
            assert 0 < paused.usd < article.usd
            assert (await graph.aget_state(config)).next, "work is left"

            await journal.set_budget("tight", article.usd * 2)
            await graph.ainvoke(None, config, durability="sync")
            done = await agent.runner.graph.aget_state(config)
            total = await thread_cost(agent.runner.ctx.pool, "tight")

        assert not done.next
        assert done.values["article"].model_dump() == free.result
        assert total.usd == pytest.approx(article.usd), "the pause cost nothing extra"
        assert provider.stats()["chat_completions"] == 2 * calls_of_one_article
