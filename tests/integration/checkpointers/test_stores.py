"""Event log, run registry, article store and LLM journal against a real database."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime

import psycopg
import pytest

from checkpointers import (
    ArticleStore,
    AsyncPool,
    EffectLedger,
    EventLog,
    GroupCommitter,
    JournalKey,
    LeaseLost,
    Leases,
    LlmJournal,
    NewEvent,
    NewJournalEntry,
    RunNotFound,
    RunRegistry,
    content_hash,
)

# --- event log -------------------------------------------------------------------------------


async def test_events_come_back_in_append_order_with_all_fields(pool: AsyncPool) -> None:
    log = EventLog(pool)
    first = await log.append("t1", "node_started", node="plan", task_id="task-a", attempt=1)
    second = await log.append(
        "t1", "retry", node="plan", attempt=2, owner="w1", data={"delay": 1.5, "why": "429"}
    )
    await log.append("t2", "node_started", node="other")

    events = await log.list("t1")

    assert [e.id for e in events] == [first, second]
    assert first < second
    assert events[0].kind == "node_started"
    assert events[0].task_id == "task-a"
    assert events[0].data == {}
    assert events[1].owner == "w1"
    assert events[1].data == {"delay": 1.5, "why": "429"}
    assert events[0].at <= events[1].at


async def test_events_can_be_filtered_by_kind(pool: AsyncPool) -> None:
    log = EventLog(pool)
    for kind in ("node_started", "retry", "node_finished", "retry"):
        await log.append("t1", kind)

    assert [e.kind for e in await log.list("t1", kinds=["retry"])] == ["retry", "retry"]
    assert len(await log.list("t1", kinds=("retry", "node_finished"))) == 3
    assert await log.list("t1", kinds=[]) == []
    assert await log.list("nobody") == []


async def test_append_many_writes_all_events_atomically_in_order(pool: AsyncPool) -> None:
    log = EventLog(pool)
    ids = await log.append_many(
        [
            NewEvent("t1", "a"),
            NewEvent("t1", "b", node="n", data={"k": [1, 2]}),
            NewEvent("t1", "c"),
        ]
    )

    events = await log.list("t1")
    assert [e.id for e in events] == ids
    assert [e.kind for e in events] == ["a", "b", "c"]
    assert events[1].data == {"k": [1, 2]}
    assert await log.append_many([]) == []


async def test_event_to_dict_is_json_ready(pool: AsyncPool) -> None:
    log = EventLog(pool)
    await log.append("t1", "failed", data={"when": datetime(2026, 1, 2, 3, 4, 5)})

    (event,) = await log.list("t1")
    as_dict = event.to_dict()

    assert isinstance(as_dict["at"], str)
    assert datetime.fromisoformat(as_dict["at"]) == event.at
    # Values json cannot encode are stored as text rather than failing the write.
    assert as_dict["data"] == {"when": "2026-01-02 03:04:05"}


# --- run registry ----------------------------------------------------------------------------


async def test_create_is_idempotent_and_keeps_the_first_input(pool: AsyncPool) -> None:
    runs = RunRegistry(pool)
    created = await runs.create("t1", "content", {"keyword": "durable execution"})
    again = await runs.create("t1", "other-graph", {"keyword": "something else"})

    assert created.status == "pending"
    assert created.recoveries == 0
    assert created.owner is None
    assert again == created
    assert await runs.get("t1") == created
    assert await runs.get("missing") is None


async def test_claim_returns_the_row_as_it_was_before(pool: AsyncPool) -> None:
    runs = RunRegistry(pool)
    await runs.create("t1", "content", None)

    first_claim = await runs.claim("t1", "worker-a")
    second_claim = await runs.claim("t1", "worker-b")
    first, second = first_claim.previous, second_claim.previous
    now = await runs.get("t1")

    assert first.status == "pending"
    assert first.owner is None
    assert first.heartbeat_at is None
    # worker-b learns that worker-a was running the thread and never finished it.
    assert second.status == "running"
    assert second.owner == "worker-a"
    assert second.heartbeat_at is not None
    assert now is not None
    assert now.owner == "worker-b"
    assert now.status == "running"
    assert now.heartbeat_at is not None
    assert now.heartbeat_at >= second.heartbeat_at
    # every claim takes a new fencing token; the run keeps the latest
    assert (first.lease, first_claim.lease, second.lease, second_claim.lease) == (0, 1, 1, 2)
    assert now.lease == 2


async def test_concurrent_claims_see_each_other(pool: AsyncPool) -> None:
    runs = RunRegistry(pool)
    await runs.create("t1", "content", None)

    claims = await asyncio.gather(*(runs.claim("t1", f"w{i}") for i in range(5)))
    previous = [claim.previous for claim in claims]

    # Claims are serialized by the row lock: exactly one saw the unclaimed run, every other
    # one saw the owner that claimed just before it.
    assert sum(p.owner is None for p in previous) == 1
    owners = {p.owner for p in previous if p.owner is not None}
    final = await runs.get("t1")
    assert final is not None
    assert len(owners) == 4
    assert final.owner not in owners
    assert sorted(claim.lease for claim in claims) == [1, 2, 3, 4, 5]
    assert final.lease == 5


async def test_claim_of_an_unknown_thread_raises(pool: AsyncPool) -> None:
    with pytest.raises(RunNotFound):
        await RunRegistry(pool).claim("missing", "w1")


async def test_set_status_respects_the_owner(pool: AsyncPool) -> None:
    runs = RunRegistry(pool)
    await runs.create("t1", "content", None)
    await runs.claim("t1", "worker-b")

    assert not await runs.set_status("t1", "completed", owner="worker-a")
    current = await runs.get("t1")
    assert current is not None
    assert current.status == "running"

    error = {"class": "fatal", "message": "400 context_length_exceeded", "attempts": 3}
    assert await runs.set_status("t1", "dead", error=error, owner="worker-b")
    current = await runs.get("t1")
    assert current is not None
    assert current.status == "dead"
    assert current.error == error
    assert current.updated_at >= current.created_at

    assert await runs.set_status("t1", "pending")  # no owner given: unconditional
    current = await runs.get("t1")
    assert current is not None
    assert current.error is None
    assert not await runs.set_status("missing", "pending")


async def test_heartbeat_refreshes_only_runs_still_owned(pool: AsyncPool) -> None:
    runs = RunRegistry(pool)
    for thread in ("t1", "t2", "t3"):
        await runs.create(thread, "content", None)
        await runs.claim(thread, "worker-a")
    await runs.claim("t3", "worker-b")  # worker-a lost t3
    before = await runs.get("t1")

    refreshed = await runs.heartbeat("worker-a", ["t1", "t2", "t3", "unknown"])

    assert refreshed == frozenset({"t1", "t2"})
    after = await runs.get("t1")
    assert before is not None
    assert after is not None
    assert before.heartbeat_at is not None
    assert after.heartbeat_at is not None
    assert after.heartbeat_at >= before.heartbeat_at
    assert await runs.heartbeat("worker-a", []) == frozenset()


async def test_recoveries_are_counted(pool: AsyncPool) -> None:
    runs = RunRegistry(pool)
    await runs.create("t1", "content", None)

    assert [await runs.increment_recoveries("t1") for _ in range(3)] == [1, 2, 3]
    current = await runs.get("t1")
    assert current is not None
    assert current.recoveries == 3
    with pytest.raises(RunNotFound):
        await runs.increment_recoveries("missing")


async def test_list_filters_by_status_and_limits(pool: AsyncPool) -> None:
    runs = RunRegistry(pool)
    for i in range(5):
        await runs.create(f"t{i}", "content", {"i": i})
    await runs.claim("t1", "w")
    await runs.claim("t3", "w")

    assert {r.thread_id for r in await runs.list("running")} == {"t1", "t3"}
    assert len(await runs.list()) == 5
    assert len(await runs.list(limit=2)) == 2
    assert await runs.list("completed") == []


async def test_stale_lists_running_runs_without_a_recent_heartbeat(pool: AsyncPool) -> None:
    runs = RunRegistry(pool)
    for thread in ("t1", "t2"):
        await runs.create(thread, "content", None)
        await runs.claim(thread, "w")
    await runs.create("t3", "content", None)
    async with pool.connection() as conn:
        await conn.execute(
            "UPDATE agent_graph_runs SET heartbeat_at = now() - interval '10 minutes'"
            " WHERE thread_id = 't1'"
        )

    assert [r.thread_id for r in await runs.stale(60)] == ["t1"]
    assert {r.thread_id for r in await runs.stale(0)} == {"t1", "t2"}


async def test_run_to_dict_has_iso_timestamps(pool: AsyncPool) -> None:
    runs = RunRegistry(pool)
    await runs.create("t1", "content", {"keyword": "k"})
    record = (await runs.claim("t1", "w")).previous

    as_dict = record.to_dict()
    assert as_dict["input"] == {"keyword": "k"}
    assert as_dict["heartbeat_at"] is None
    assert datetime.fromisoformat(as_dict["created_at"]) == record.created_at


# --- articles --------------------------------------------------------------------------------


async def test_article_upsert_is_idempotent_per_slug(pool: AsyncPool) -> None:
    articles = ArticleStore(pool)
    first = await articles.upsert(
        "durable-execution", "t1", "durable execution", "Title", "# Body", {"words": 3}
    )
    again = await articles.upsert(
        "durable-execution", "t2", "durable execution", "Better title", "# Body v2", {"words": 4}
    )
    await articles.upsert("other", "t3", "other", "Other", "# Other", None)

    assert await articles.count() == 2
    stored = await articles.get("durable-execution")
    assert stored == again
    assert stored.title == "Better title"
    assert stored.meta == {"words": 4}
    assert stored.thread_id == "t2"
    assert stored.created_at == first.created_at
    other = await articles.get("other")
    assert other is not None
    assert other.meta == {}
    assert await articles.get("missing") is None


# --- LLM journal -----------------------------------------------------------------------------


def _entry(thread_id: str) -> NewJournalEntry:
    return NewJournalEntry(
        key=JournalKey(thread_id, "outline", "task-1", "h" * 64, 0),
        attempt=1,
        model="gpt-4o-mini",
        request={"messages": []},
        response={"content": "an outline"},
        prompt_tokens=10,
        completion_tokens=5,
        usd=0.001,
        owner="me",
    )


async def test_journal_records_a_response_and_its_event_together(pool: AsyncPool) -> None:
    runs, leases = RunRegistry(pool), Leases()
    await runs.create("j1", "g", {})
    leases.hold("j1", (await runs.claim("j1", "me")).lease)
    journal = LlmJournal(pool, leases)

    journal_id = await journal.record(_entry("j1"), NewEvent("j1", "llm_call", data={"usd": 1}))

    (event,) = await EventLog(pool).list("j1")
    assert (event.kind, event.data) == ("llm_call", {"usd": 1, "journal_id": journal_id})
    assert [e.id for e in await journal.entries("j1")] == [journal_id]


async def test_a_taken_over_thread_records_neither_response_nor_event(pool: AsyncPool) -> None:
    runs, leases = RunRegistry(pool), Leases()
    await runs.create("j2", "g", {})
    leases.hold("j2", (await runs.claim("j2", "me")).lease)
    await runs.claim("j2", "another worker")
    journal = LlmJournal(pool, leases)

    with pytest.raises(LeaseLost):
        await journal.record(_entry("j2"), NewEvent("j2", "llm_call"))

    assert await journal.entries("j2") == []
    assert await EventLog(pool).list("j2") == []


async def test_responses_arriving_together_share_a_commit_and_keep_their_events(
    pool: AsyncPool,
) -> None:
    runs, leases = RunRegistry(pool), Leases()
    threads = [f"js-{i}" for i in range(12)]
    for thread_id in threads:
        await runs.create(thread_id, "g", {})
        leases.hold(thread_id, (await runs.claim(thread_id, "me")).lease)
    journal = LlmJournal(pool, leases)

    await asyncio.gather(
        *(journal.record_shared(_entry(t), NewEvent(t, "llm_call", data={"t": t})) for t in threads)
    )

    async with pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT count(*) AS n, count(DISTINCT xmin::text) AS xacts"
            " FROM agent_graph_llm_journal WHERE thread_id LIKE 'js-%'"
        )
        row = await cursor.fetchone()
    assert row is not None
    assert row["n"] == 12
    assert row["xacts"] < 12  # fewer commits than responses
    for thread_id in threads:
        (entry,) = await journal.entries(thread_id)
        (event,) = await EventLog(pool).list(thread_id)
        assert event.data == {"t": thread_id, "journal_id": entry.id}


async def test_a_taken_over_thread_fails_alone_among_shared_responses(pool: AsyncPool) -> None:
    runs, leases = RunRegistry(pool), Leases()
    for thread_id in ("ja", "jb", "jc"):
        await runs.create(thread_id, "g", {})
        leases.hold(thread_id, (await runs.claim(thread_id, "me")).lease)
    await runs.claim("jb", "another worker")
    journal = LlmJournal(pool, leases)

    results = await asyncio.gather(
        *(journal.record_shared(_entry(t), NewEvent(t, "llm_call")) for t in ("ja", "jb", "jc")),
        return_exceptions=True,
    )

    assert results[0] is None
    assert results[2] is None
    assert isinstance(results[1], LeaseLost)
    assert [len(await journal.entries(t)) for t in ("ja", "jb", "jc")] == [1, 0, 1]
    assert await EventLog(pool).list("jb") == []


async def test_a_shared_commit_locks_runs_in_thread_order_like_the_heartbeat(
    pool: AsyncPool, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # A shared transaction carrying rows that check their own lease (a response of lc, an
    # effect claim of lb) must lock the runs in thread order, as a worker's heartbeat locks
    # them: otherwise each waits for a row the other holds and the batch falls apart.
    runs, leases = RunRegistry(pool), Leases()
    for thread_id in ("lb", "lc"):
        await runs.create(thread_id, "g", {})
        leases.hold(thread_id, (await runs.claim(thread_id, "me")).lease)
    committer = GroupCommitter(pool)
    journal = LlmJournal(pool, leases, committer)
    ledger = EffectLedger(pool, leases, committer)
    heartbeat = await psycopg.AsyncConnection.connect(database_url)
    lock_row = "SELECT 1 FROM agent_graph_runs WHERE thread_id = %s FOR NO KEY UPDATE"
    try:
        await heartbeat.execute(lock_row, ["lb"])  # the heartbeat holds lb, lc comes next
        with caplog.at_level(logging.DEBUG, logger="checkpointers._group_commit"):
            batch = asyncio.gather(
                journal.record_shared(_entry("lc"), NewEvent("lc", "llm_call")),
                ledger.claim(
                    "post-1",
                    thread_id="lb",
                    node="publish",
                    name="create_post",
                    digest=content_hash("create_post", {"title": "t"}),
                    owner="me",
                ),
            )
            deadline = time.monotonic() + 10
            while not await _waiting_for_a_lock(pool):
                assert time.monotonic() < deadline, "the shared commit never waited for lb"
                await asyncio.sleep(0.02)
            # lb's wait must not hold lc: the heartbeat gets it at once
            await heartbeat.execute("SET LOCAL lock_timeout = '2s'")
            await heartbeat.execute(lock_row, ["lc"])
            await heartbeat.commit()
            await asyncio.wait_for(batch, timeout=10)
    finally:
        await heartbeat.close()
    assert "one by one" not in caplog.text  # committed as one shared transaction
    assert [len(await EventLog(pool).list(t)) for t in ("lb", "lc")] == [0, 1]
    assert (await ledger.get("post-1")) is not None


async def _waiting_for_a_lock(pool: AsyncPool) -> bool:
    async with pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT count(*) AS n FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        row = await cursor.fetchone()
    return row is not None and row["n"] > 0
