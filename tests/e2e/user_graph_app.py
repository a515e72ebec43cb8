"""A user's own three-node graph made durable; run as a script by the e2e tests.

Usage: python user_graph_app.py start|resume THREAD_ID COUNTER_FILE
Every node appends its name to COUNTER_FILE when its body runs; the "charge" effect appends
"charged" when it acts, so the test can count executions across processes.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any, TypedDict

from langgraph.graph import StateGraph

from agent_graph import Settings, effect, make_durable, open_runtime
from agent_graph.examples import linear_graph


class Order(TypedDict, total=False):
    item: str
    price: float
    receipt: str
    note: str


def build(counter: Path) -> StateGraph[Any, Any, Any, Any]:
    def mark(what: str) -> None:
        with counter.open("a") as out:
            out.write(what + "\n")

    async def quote(state: Order) -> Order:
        mark("quote")
        return {"price": 9.5 * len(state["item"])}

    async def charge(state: Order) -> Order:
        mark("charge")

        async def pay(key: str) -> str:
            mark(f"charged:{key}")  # the "payment API" records the idempotency key
            return f"receipt-{key[:8]}"

        async def lookup(key: str) -> str | None:  # "is there a payment with this key?"
            paid = f"charged:{key}" in counter.read_text().split()  # noqa: ASYNC240
            return f"receipt-{key[:8]}" if paid else None

        receipt = await effect("charge", pay, content={"price": state["price"]}, lookup=lookup)
        return {"receipt": receipt}

    async def thank(state: Order) -> Order:
        mark("thank")
        return {"note": f"thanks for {state['item']}"}

    return linear_graph(Order, {"quote": quote, "charge": charge, "thank": thank})


async def main(command: str, thread_id: str, counter: Path) -> int:
    async with open_runtime(Settings()) as runtime:
        runner = runtime.runner(make_durable(build(counter)), name="orders")
        if command == "start":
            status = await runner.start(thread_id, {"item": "lamp"})
        else:
            status = await runner.resume(thread_id)
        print(json.dumps(status.model_dump(mode="json")))
        return 0 if status.status == "completed" else 3


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], sys.argv[2], Path(sys.argv[3]))))
