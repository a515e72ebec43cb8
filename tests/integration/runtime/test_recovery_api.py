"""Dead letters, redrive with a patch and escalations through the Python API, on a user graph."""

from __future__ import annotations

from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph

from agent_graph import Settings, open_runtime
from policies import Escalate, Fatal, Policies, Retryable, RetryPolicy

FAST = Policies.default().override(
    kind="tool", policy=RetryPolicy(attempts=4, initial=0.01, cap=0.05, jitter=0.0)
)


class Order(TypedDict, total=False):
    item: str
    quantity: int
    price: float
    receipt: str


def build(log: list[str]) -> StateGraph[Any, Any, Any, Any]:
    async def check(state: Order) -> Order:
        log.append("check")
        if state["quantity"] <= 0:
            raise Fatal("quantity must be positive")
        if state["quantity"] > 100:
            raise Escalate("unusually large order")
        return {}

    async def price(state: Order) -> Order:
        log.append("price")
        if log.count("price") == 1:
            raise Retryable("pricing service warming up", retry_after=0.02)
        return {"price": 2.5 * state["quantity"]}

    async def bill(state: Order) -> Order:
        log.append("bill")
        return {"receipt": f"{state['item']} x{state['quantity']} = {state['price']}"}

    builder: StateGraph[Any, Any, Any, Any] = StateGraph(Order)
    for name, fn in (("check", check), ("price", price), ("bill", bill)):
        builder.add_node(name, fn)
    builder.add_edge(START, "check")
    builder.add_edge("check", "price")
    builder.add_edge("price", "bill")
    builder.add_edge("bill", END)
    return builder


async def test_fatal_dead_letter_redriven_with_a_patch(database_url: str) -> None:
    log: list[str] = []
    async with open_runtime(Settings(database_url=database_url), policies=FAST) as runtime:
        runner = runtime.runner(build(log), name="orders")
        status = await runner.start("o-1", {"item": "lamp", "quantity": 0})
        assert status.status == "dead_lettered"
        [letter] = await runner.dead_letters.list()
        assert (letter.node, letter.kind, letter.reason) == ("check", "fatal", "user_fatal")
        assert letter.attempts == 1
        assert "quantity must be positive" in (letter.message or "")

        done = await runner.redrive(letter.id, patch={"quantity": 3})
        assert done.status == "completed"
        assert done.result["receipt"] == "lamp x3 = 7.5"
        assert await runner.dead_letters.list() == []
        history = await runner.history("o-1")
    assert [(h.node, h.status) for h in history] == [
        ("check", "failed"),
        ("check", "completed"),
        ("price", "failed"),
        ("price", "completed"),
        ("bill", "completed"),
    ]
    retry = history[2].error or {}
    assert retry["reason"] == "user_retryable"
    assert retry["delay"] == 0.02


async def test_escalation_waits_for_a_person_then_skip(database_url: str) -> None:
    log: list[str] = []
    async with open_runtime(Settings(database_url=database_url), policies=FAST) as runtime:
        runner = runtime.runner(build(log), name="orders")
        status = await runner.start("o-2", {"item": "lamp", "quantity": 500})
        assert status.status == "waiting_for_human"
        assert status.question is not None
        assert status.question["node"] == "check"
        assert "unusually large order" in status.question["question"]
        assert [s.thread_id for s in await runner.escalations()] == ["o-2"]

        done = await runner.resolve("o-2", "skip")
        assert done.status == "completed"
        assert done.result["receipt"] == "lamp x500 = 1250.0"
        assert await runner.escalations() == []


async def test_escalation_answered_retry_with_patch(database_url: str) -> None:
    log: list[str] = []
    async with open_runtime(Settings(database_url=database_url), policies=FAST) as runtime:
        runner = runtime.runner(build(log), name="orders")
        assert (await runner.start("o-3", {"item": "lamp", "quantity": 500})).status == (
            "waiting_for_human"
        )
        done = await runner.resolve("o-3", "retry", patch={"quantity": 50})
        assert done.status == "completed"
        assert done.result["receipt"] == "lamp x50 = 125.0"


async def test_a_nodes_own_interrupt_still_gets_its_resume_value(database_url: str) -> None:
    from langgraph.types import Command, interrupt

    class Draft(TypedDict, total=False):
        text: str
        approved: str

    async def review(state: Draft) -> Draft:
        return {"approved": interrupt({"please_review": state["text"]})}

    builder: StateGraph[Any, Any, Any, Any] = StateGraph(Draft)
    builder.add_node("review", review)
    builder.add_edge(START, "review")
    builder.add_edge("review", END)
    async with open_runtime(Settings(database_url=database_url)) as runtime:
        runner = runtime.runner(builder, name="review")
        paused = await runner.start("d-1", {"text": "hello"})
        assert paused.status == "waiting_for_human"
        assert paused.question == {"please_review": "hello"}
        config = runner.config("d-1")
        await runner.graph.ainvoke(Command(resume="yes"), config, durability="sync")
        assert (await runner.status("d-1")).result["approved"] == "yes"
