"""The idempotency ledger on a user's own graph: claim -> perform -> record, reuse, reconcile."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any, TypedDict

import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph

from agent_graph import (
    IdempotencyKeyConflict,
    Settings,
    effect,
    idempotent,
    open_runtime,
    side_effect,
)
from checkpointers import (
    AsyncPool,
    EffectLedger,
    EventLog,
    LeaseLost,
    Leases,
    RunRegistry,
    content_hash,
)
from policies import Policies, RetryPolicy

FAST = Policies.default().override(
    kind="tool", policy=RetryPolicy(attempts=3, initial=0.01, cap=0.05, jitter=0.0)
)


class Order(TypedDict, total=False):
    item: str
    receipt: str
    again: str


class Remote:
    """A payment service that remembers what it did, by idempotency key."""

    def __init__(self) -> None:
        self.charges: Counter[str] = Counter()
        self.done: dict[str, str] = {}

    async def charge(self, key: str) -> str:
        self.charges[key] += 1
        self.done[key] = f"receipt-{len(self.done) + 1}"
        return self.done[key]

    async def find(self, key: str) -> str | None:
        return self.done.get(key)


def order_graph(remote: Remote, *, key: str | None = None, twice: bool = False) -> Any:
    async def charge(state: Order) -> Order:
        item = state["item"]
        receipt = await effect(
            "charge", remote.charge, key=key, content={"item": item}, lookup=remote.find
        )
        update: Order = {"receipt": receipt}
        if twice:  # the same effect again in the same node: the ledger answers
            update["again"] = await effect(
                "charge", remote.charge, key=key, content={"item": item}, lookup=remote.find
            )
        return update

    builder: StateGraph[Any, Any, Any, Any] = StateGraph(Order)
    builder.add_node("charge", charge)
    builder.add_edge(START, "charge")
    builder.add_edge("charge", END)
    return builder


async def kinds(pool: AsyncPool, thread_id: str) -> list[str]:
    events = await EventLog(pool).list(thread_id)
    return [e.kind for e in events if e.kind.startswith("effect_")]


async def test_effect_runs_once_and_a_repeat_returns_the_stored_result(database_url: str) -> None:
    remote = Remote()
    async with open_runtime(Settings(database_url=database_url)) as runtime:
        runner = runtime.runner(order_graph(remote, twice=True), name="orders")
        status = await runner.start("order-1", {"item": "lamp"})
        assert status.status == "completed"
        assert status.result["receipt"] == status.result["again"] == "receipt-1"
        assert sum(remote.charges.values()) == 1
        [key] = remote.charges  # the default key, derived from thread, node, name, content
        record = await EffectLedger(runtime.pool).get(key)
        assert record is not None
        assert (record.status, record.result, record.thread_id, record.node) == (
            "done",
            "receipt-1",
            "order-1",
            "charge",
        )
        assert record.content_hash == content_hash("charge", {"item": "lamp"})
        assert await kinds(runtime.pool, "order-1") == ["effect_performed", "effect_reused"]

        # Another thread with the same content gets its own key: a distinct effect.
        await runner.start("order-2", {"item": "lamp"})
        assert sum(remote.charges.values()) == 2


async def test_claimed_but_unrecorded_effect_is_reconciled_by_lookup(database_url: str) -> None:
    """The process 'dies' (a failpoint raises) after acting and before recording."""
    remote = Remote()
    settings = Settings(database_url=database_url, failpoints="effect:charge:after=raise@1")
    async with open_runtime(settings, policies=FAST) as runtime:
        runner = runtime.runner(order_graph(remote), name="orders")
        status = await runner.start("order-1", {"item": "lamp"})
        assert status.status == "completed", status
        assert status.result["receipt"] == "receipt-1"
        assert sum(remote.charges.values()) == 1, "the retry found the charge, did not redo it"
        events = await EventLog(runtime.pool).list("order-1", kinds=["effect_reconciled"])
        assert [e.data["found"] for e in events] == [True]
        [record] = await EffectLedger(runtime.pool).list("order-1")
        assert (record.status, record.claims) == ("done", 2)


async def test_unrecorded_effect_without_a_remote_record_is_performed_again(
    database_url: str,
) -> None:
    remote = Remote()
    settings = Settings(database_url=database_url, failpoints="effect:charge:before=raise@1")
    async with open_runtime(settings, policies=FAST) as runtime:
        runner = runtime.runner(order_graph(remote), name="orders")
        status = await runner.start("order-1", {"item": "lamp"})
        assert status.status == "completed"
        assert sum(remote.charges.values()) == 1
        events = await EventLog(runtime.pool).list("order-1", kinds=["effect_reconciled"])
        assert [(e.data["found"], e.data["lookup"]) for e in events] == [(False, True)]


async def test_key_reused_with_different_content_is_an_error(database_url: str) -> None:
    remote = Remote()
    async with open_runtime(Settings(database_url=database_url)) as runtime:
        runner = runtime.runner(order_graph(remote, key="order-42"), name="orders")
        first = await runner.start("t-1", {"item": "lamp"})
        assert first.status == "completed"
        # Same explicit key, same content, another thread: the recorded effect is reused.
        same = await runner.start("t-2", {"item": "lamp"})
        assert same.status == "completed"
        assert same.result["receipt"] == "receipt-1"
        # Same key, other content: refused, not silently reused, and never retried.
        other = await runner.start("t-3", {"item": "chair"})
        assert other.status in ("failed", "dead_lettered"), other.status
        history = await runner.history("t-3")
        failed = [h for h in history if h.status == "failed"]
        assert len(failed) == 1
        assert failed[0].error is not None
        assert failed[0].error["kind"] == "fatal", failed[0].error
        assert failed[0].error["error_type"].endswith("IdempotencyKeyConflict")
        assert sum(remote.charges.values()) == 1

        ledger = EffectLedger(runtime.pool)
        with pytest.raises(IdempotencyKeyConflict, match="order-42") as raised:
            await ledger.claim(
                "order-42",
                thread_id="t-4",
                node="charge",
                name="charge",
                digest=content_hash("charge", {"item": "sofa"}),
                owner="test",
            )
        assert "key=None" in raised.value.hint


async def test_decorator_and_side_effect_use_the_ledger(database_url: str) -> None:
    sent: list[tuple[str, str, int]] = []

    @idempotent("email", key=lambda to, n: f"email:{to}:{n}")
    async def send_email(key: str, to: str, n: int) -> dict[str, Any]:
        sent.append((key, to, n))
        return {"id": len(sent)}

    class Mail(TypedDict, total=False):
        to: str
        ids: list[int]

    async def mail(state: Mail, config: RunnableConfig) -> Mail:
        first = await send_email(state["to"], 1)
        again = await send_email(state["to"], 1)
        legacy = await side_effect("ping", config, _ping, key="ping:1")
        return {"ids": [first["id"], again["id"], legacy]}

    builder: StateGraph[Any, Any, Any, Any] = StateGraph(Mail)
    builder.add_node("mail", mail)
    builder.add_edge(START, "mail")
    builder.add_edge("mail", END)
    async with open_runtime(Settings(database_url=database_url)) as runtime:
        status = await runtime.runner(builder, name="mail").start("m-1", {"to": "ada"})
        assert status.result["ids"] == [1, 1, 7]
        assert sent == [("email:ada:1", "ada", 1)]
        keys = {r.key for r in await EffectLedger(runtime.pool).list("m-1")}
        assert keys == {"email:ada:1", "ping:1"}


async def _ping(key: str) -> int:
    return 7


async def test_effect_outside_a_durable_node_just_acts() -> None:
    calls: list[str] = []

    async def act(key: str) -> str:
        calls.append(key)
        return key

    first = await effect("x", act, content={"a": 1})
    assert first == await effect("x", act, content={"a": 1})
    assert len(calls) == 2
    assert len(first) == 64


async def test_claims_arriving_together_share_commits_and_each_gets_its_own_row(
    pool: AsyncPool,
) -> None:
    ledger = EffectLedger(pool)
    keys = [f"shared-{i}" for i in range(12)]

    claims = await asyncio.gather(
        *(
            ledger.claim(
                key,
                thread_id=f"t-{key}",
                node="pay",
                name="charge",
                digest=content_hash("charge", key),
                owner="me",
            )
            for key in keys
        )
    )

    assert [(c.record.key, c.record.status, c.fresh) for c in claims] == [
        (key, "claimed", True) for key in keys
    ]
    async with pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT count(DISTINCT xmin::text) AS xacts FROM agent_graph_effects"
            " WHERE key LIKE 'shared-%'"
        )
        row = await cursor.fetchone()
    assert row is not None
    assert row["xacts"] < len(keys)  # fewer commits than claims
    again = await ledger.claim(
        keys[0],
        thread_id=f"t-{keys[0]}",
        node="pay",
        name="charge",
        digest=content_hash("charge", keys[0]),
        owner="me",
    )
    assert not again.fresh


async def test_a_taken_over_thread_claims_nothing_and_its_batch_mates_do(pool: AsyncPool) -> None:
    runs, leases = RunRegistry(pool), Leases()
    for thread_id in ("ca", "cb", "cc"):
        await runs.create(thread_id, "g", {})
        leases.hold(thread_id, (await runs.claim(thread_id, "me")).lease)
    await runs.claim("cb", "another worker")
    ledger = EffectLedger(pool, leases)

    results = await asyncio.gather(
        *(
            ledger.claim(
                f"key-{t}",
                thread_id=t,
                node="pay",
                name="charge",
                digest=content_hash("charge", t),
                owner="me",
            )
            for t in ("ca", "cb", "cc")
        ),
        return_exceptions=True,
    )

    assert not isinstance(results[0], BaseException)
    assert not isinstance(results[2], BaseException)
    assert isinstance(results[1], LeaseLost)
    assert await ledger.get("key-cb") is None
    assert await ledger.get("key-ca") is not None
    assert await ledger.get("key-cc") is not None
