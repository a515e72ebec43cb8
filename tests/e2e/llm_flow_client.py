"""A separate process running durable threads that each make one LLM call, printing its requests.

Usage: python llm_flow_client.py DSN OPENAI_BASE_URL PREFIX THREADS [PROMPT] [LEASE_SECONDS]

Runs THREADS threads at once (``PREFIX-0``...), each one durable node calling the model through
``JournaledChatOpenAI`` (which takes the fleet-wide slots). Prints {"ready": true} once connected,
just before starting the threads, then one JSON line per HTTP request sent to the provider,
{"start": <epoch>, "end": <epoch>, "status": <int>}: ``start`` taken before the request leaves,
``end`` after its body was read (wall clock, comparable across processes), so a span covers the
provider's whole handling of the request.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any, TypedDict

import httpx
from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph

from agent_graph import Settings, open_runtime
from agent_graph.llm import JournaledChatOpenAI


class Question(TypedDict, total=False):
    topic: str
    answer: str


async def main(
    dsn: str, base_url: str, prefix: str, threads: int, prompt: str, lease: float | None
) -> None:
    started: dict[int, float] = {}

    async def on_request(request: httpx.Request) -> None:
        started[id(request)] = time.time()

    async def on_response(response: httpx.Response) -> None:
        await response.aread()
        span = {"start": started.pop(id(response.request)), "end": time.time()}
        print(json.dumps({**span, "status": response.status_code}), flush=True)

    hooks: dict[str, list[Any]] = {"request": [on_request], "response": [on_response]}
    async with httpx.AsyncClient(event_hooks=hooks) as client:
        llm = JournaledChatOpenAI(
            model="gpt-4o-mini",
            base_url=base_url,
            api_key="offline-test-key",  # type: ignore[arg-type]
            max_retries=0,
            timeout=120,
            http_async_client=client,
            limit_lease_seconds=lease,
        )

        async def ask(state: Question, config: RunnableConfig) -> Question:
            reply = await llm.ainvoke([HumanMessage(f"{prompt} {state['topic']}")], config)
            return {"answer": str(reply.content)}

        builder: StateGraph[Any, Any, Any, Any] = StateGraph(Question)
        builder.add_node("ask", ask)
        builder.add_edge(START, "ask")
        builder.add_edge("ask", END)
        async with open_runtime(Settings(database_url=dsn)) as runtime:
            runner = runtime.runner(builder, name="flow")
            print(json.dumps({"ready": True}), flush=True)
            statuses = await asyncio.gather(
                *(runner.start(f"{prefix}-{i}", {"topic": f"{prefix} {i}"}) for i in range(threads))
            )
    failed = [s.thread_id for s in statuses if s.status != "completed"]
    if failed:
        raise SystemExit(f"threads not completed: {failed}")


if __name__ == "__main__":
    args = sys.argv[1:]
    asyncio.run(
        main(
            args[0],
            args[1],
            args[2],
            int(args[3]),
            args[4] if len(args) > 4 else "Write one sentence about",
            float(args[5]) if len(args) > 5 else None,
        )
    )
