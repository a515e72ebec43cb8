"""make_durable on a user's own three-node graph: policies, classification, attempts."""

from __future__ import annotations

from typing import Any, TypedDict

import pytest
from langgraph.graph import StateGraph

from agent_graph import Settings, open_runtime
from agent_graph.examples import linear_graph
from policies import Classifier, Policies, RetryPolicy, rule


class FlakyError(Exception):
    """A user's own exception type."""


class Doc(TypedDict, total=False):
    text: str
    words: int
    summary: str


def build(failures: int) -> StateGraph[Any, Any, Any, Any]:
    calls = {"count": 0}

    async def clean(state: Doc) -> Doc:
        return {"text": state["text"].strip()}

    async def count(state: Doc) -> Doc:
        calls["count"] += 1
        if calls["count"] <= failures:
            raise FlakyError(f"flaky {calls['count']} api_key=sk-secret123456789012345")
        return {"words": len(state["text"].split())}

    async def summarise(state: Doc) -> Doc:
        return {"summary": f"{state['words']} words"}

    return linear_graph(Doc, {"clean": clean, "count": count, "summarise": summarise})


FAST = Policies.default().override(
    kind="tool", policy=RetryPolicy(attempts=4, initial=0.01, cap=0.05, jitter=0.0)
)


@pytest.mark.parametrize(("kind", "failures"), [("retryable", 2), ("fatal", 1)])
async def test_user_rules_decide_retry_or_stop(database_url: str, kind: str, failures: int) -> None:
    classifier = Classifier.default().with_rules(rule(FlakyError, kind, "flaky"))  # type: ignore[arg-type]
    async with open_runtime(
        Settings(database_url=database_url), policies=FAST, classifier=classifier
    ) as runtime:
        runner = runtime.runner(build(failures), name="docs")
        status = await runner.start("doc-1", {"text": "  three little words "})
        history = await runner.history("doc-1")

    counted = [h for h in history if h.node == "count"]
    assert [h.attempt for h in counted] == list(range(1, len(counted) + 1))
    failed = [h for h in counted if h.status == "failed"]
    assert len(failed) == failures
    assert all(h.error is not None and h.error["reason"] == "flaky" for h in failed)
    assert all("sk-secret" not in str(h.error) for h in failed)
    if kind == "retryable":
        assert status.status == "completed"
        assert status.result["summary"] == "3 words"
        assert counted[-1].status == "completed"
        assert [h.error["delay"] for h in failed if h.error] == [0.01, 0.02]
    else:
        assert status.status == "dead_lettered"
        assert status.next == ["count"]
        assert [h.node for h in history if h.status == "completed"] == ["clean"]


async def test_resume_after_fatal_does_not_rerun_completed_nodes(database_url: str) -> None:
    classifier = Classifier.default().with_rules(rule(FlakyError, "fatal", "flaky"))
    settings = Settings(database_url=database_url)
    builder = build(1)
    async with open_runtime(settings, policies=FAST, classifier=classifier) as runtime:
        runner = runtime.runner(builder, name="docs")
        assert (await runner.start("doc-2", {"text": "a b"})).status == "dead_lettered"
        resumed = await runner.resume("doc-2")  # a resume of a dead letter redrives it
        history = await runner.history("doc-2")
        assert await runner.dead_letters.list() == []
    assert resumed.status == "completed"
    assert [h.node for h in history if h.status == "completed"] == ["clean", "count", "summarise"]
    # the redrive gives the node fresh attempts
    assert [(h.node, h.attempt) for h in history if h.node == "count"] == [
        ("count", 1),
        ("count", 1),
    ]


async def test_resume_adopts_a_thread_started_outside_the_runner(database_url: str) -> None:
    # A thread run by plain LangGraph on the runner's graph (a notebook, Studio, a script):
    # checkpoints, but no run registered. Resuming it registers the run and goes on.
    ran: list[str] = []

    def node(name: str, update: Doc) -> Any:
        async def run(state: Doc) -> Doc:
            ran.append(name)
            return update

        return run

    builder = linear_graph(
        Doc,
        {
            "clean": node("clean", {"text": "a b"}),
            "count": node("count", {"words": 2}),
            "summarise": node("summarise", {"summary": "2 words"}),
        },
    )
    async with open_runtime(Settings(database_url=database_url)) as runtime:
        runner = runtime.runner(builder, name="docs")
        config = {"configurable": {"thread_id": "outside-1"}}
        await runner.graph.ainvoke({"text": " a b "}, config, interrupt_before=["count"])
        assert ran == ["clean"]
        assert await runtime.context.runs.get("outside-1") is None

        status = await runner.resume("outside-1")
        events = await runtime.context.events.list("outside-1")

    assert status.status == "completed"
    assert status.result["summary"] == "2 words"
    assert ran == ["clean", "count", "summarise"]  # the completed node is not run again
    resumed = [e for e in events if e.kind == "run_resumed"]
    assert len(resumed) == 1
    assert resumed[0].data["adopted"] is True
    completed = [e.node for e in events if e.kind == "node_completed"]
    assert completed == ["clean", "count", "summarise"]
