"""The LLM response journal (``agent_graph_llm_journal``) and per-thread budgets.

The journal holds every LLM response a durable node received, with its token usage and price,
so that a node run again after a crash reads its answers back instead of paying for them twice.
It also answers what a thread cost (:func:`thread_cost`) and holds each thread's budget.
"""

from __future__ import annotations

import builtins
import dataclasses
import math
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, LiteralString

from checkpointers._events import event_params
from checkpointers._group_commit import GroupCommitter
from checkpointers._held_writes import HeldWrites
from checkpointers._leases import Leases, lease_errors
from checkpointers._models import NewEvent, jsonb
from checkpointers._pool import AsyncPool
from checkpointers._queries import QUERIES
from policies._errors import ConfigurationError

__all__ = [
    "CostSummary",
    "JournalEntry",
    "JournalKey",
    "JournalLookup",
    "LlmJournal",
    "NewJournalEntry",
    "NodeCost",
    "thread_cost",
]


@dataclasses.dataclass(frozen=True, slots=True)
class JournalKey:
    """What identifies one LLM request of one node execution.

    Attributes:
        thread_id: the thread.
        node: the graph node that made the request.
        task_id: LangGraph's task id (the same when a task runs again after a crash);
            ``""`` when unknown.
        request_hash: sha256 of the request's content (model, messages, response format...).
        occurrence: 0 for the first identical request in the node execution, 1 for the second...
    """

    thread_id: str
    node: str
    task_id: str
    request_hash: str
    occurrence: int

    def params(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True, slots=True)
class NewJournalEntry:
    """A response to record (see :meth:`LlmJournal.record`).

    Attributes:
        key: the request's key.
        attempt: the node attempt that received it (its failure makes the row non-replayable).
        model: model name the request asked for.
        request: a JSON-able, redacted copy of the request (never the API key).
        response: the JSON-able response, enough to rebuild the model's answer.
        prompt_tokens: prompt tokens billed.
        completion_tokens: completion tokens billed.
        usd: what the call cost in US dollars.
        owner: the process that made the call.
    """

    key: JournalKey
    attempt: int | None
    model: str
    request: Mapping[str, Any]
    response: Mapping[str, Any]
    prompt_tokens: int
    completion_tokens: int
    usd: float
    owner: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class JournalEntry(NewJournalEntry):
    """One row of ``agent_graph_llm_journal``: one paid LLM call.

    Attributes:
        id: the row's id (orders a thread's calls).
        created_at: when the response was recorded.
    """

    id: int
    created_at: datetime

    @property
    def thread_id(self) -> str:
        """The thread (``key.thread_id``)."""
        return self.key.thread_id

    @property
    def node(self) -> str:
        """The node that made the request (``key.node``)."""
        return self.key.node

    @property
    def task_id(self) -> str:
        """LangGraph's task id (``key.task_id``)."""
        return self.key.task_id

    @property
    def request_hash(self) -> str:
        """sha256 of the request's content (``key.request_hash``)."""
        return self.key.request_hash

    @property
    def occurrence(self) -> int:
        """Which identical request of the node execution it answered (``key.occurrence``)."""
        return self.key.occurrence

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> JournalEntry:
        """Build the entry from a journal row (all columns)."""
        key = JournalKey(
            **{field.name: row[field.name] for field in dataclasses.fields(JournalKey)}
        )
        values = {
            field.name: row[field.name] for field in dataclasses.fields(cls) if field.name != "key"
        }
        values["usd"] = float(values["usd"])
        return cls(key=key, **values)


@dataclasses.dataclass(frozen=True, slots=True)
class JournalLookup:
    """What :meth:`LlmJournal.lookup` found before an LLM call.

    Attributes:
        entry: the response to replay, or None (the provider must be asked).
        budget_usd: the thread's budget in US dollars, None when it has none.
        spent_usd: what the thread's LLM calls have cost so far.
    """

    entry: JournalEntry | None
    budget_usd: float | None
    spent_usd: float


@dataclasses.dataclass(frozen=True, slots=True)
class NodeCost:
    """LLM spend of one node of a thread (all its executions and attempts)."""

    usd: float
    prompt_tokens: int
    completion_tokens: int
    calls: int


@dataclasses.dataclass(frozen=True, slots=True)
class CostSummary:
    """What a thread's LLM calls cost, from the journal and the event log.

    Attributes:
        usd: dollars paid for every LLM response the thread received, in any process and any
            attempt (retries included; a call that failed returned no usage and is not billed).
        prompt_tokens: prompt tokens of those calls.
        completion_tokens: completion tokens of those calls.
        calls: how many responses were paid for.
        replayed_calls: responses read back from the journal instead of the provider.
        saved_usd: what durability avoided paying again: the calls recorded before the
            thread's latest ``run_resumed`` or ``run_redriven`` event (a restart from scratch
            would have repeated them; checkpoints kept the finished nodes and the journal the
            answers of the interrupted ones), plus replays of calls recorded after it (a node
            run again within the same run, e.g. after an interrupt). Zero for a thread that
            never resumed nor replayed.
        per_node: the same totals per graph node.
    """

    usd: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    calls: int = 0
    replayed_calls: int = 0
    saved_usd: float = 0.0
    per_node: Mapping[str, NodeCost] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: what ``status --json`` shows as ``cost``."""
        return {
            "usd": round(self.usd, 9),
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "calls": self.calls,
            "replayed_calls": self.replayed_calls,
            "saved_usd": round(self.saved_usd, 9),
            "per_node": {
                node: {**dataclasses.asdict(cost), "usd": round(cost.usd, 9)}
                for node, cost in self.per_node.items()
            },
        }


def _money(value: Any) -> float:
    return float(value) if value is not None else 0.0


class LlmJournal:
    """Read and write the LLM journal and the thread budgets.

    Args:
        pool: a pool from :func:`open_async_pool` over a database set up with
            :func:`setup_database`.
        leases: the leases this process holds: a response recorded with an event for a thread
            held there is fenced (:class:`LeaseLost`, nothing recorded, once another claim
            took the thread over).
        committer: commits :meth:`record_shared`'s rows, in transactions shared with other
            threads' writes (a new one by default).
    """

    def __init__(
        self,
        pool: AsyncPool,
        leases: Leases | None = None,
        committer: GroupCommitter | None = None,
    ) -> None:
        self._pool = pool
        self._leases = leases
        self._committer = committer if committer is not None else GroupCommitter(pool)

    async def lookup(self, key: JournalKey) -> JournalLookup:
        """Find the replayable response for ``key``, with the thread's budget and spend.

        A response recorded by an attempt that later failed (a ``node_failed`` event) is not
        replayable: the retry exists to get another answer.
        """
        async with self._pool.connection() as conn:
            cursor = await conn.execute(QUERIES.journal_lookup, key.params())
            row = await cursor.fetchone()
        assert row is not None
        entry = None
        if row["id"] is not None:
            entry = JournalEntry(
                key=key,
                attempt=row["attempt"],
                model=row["model"],
                request={},  # not read back: a replay needs only the response
                response=row["response"],
                prompt_tokens=int(row["prompt_tokens"]),
                completion_tokens=int(row["completion_tokens"]),
                usd=_money(row["usd"]),
                owner=row["owner"],
                id=int(row["id"]),
                created_at=row["created_at"],
            )
        budget = row["budget_usd"]
        return JournalLookup(
            entry=entry,
            budget_usd=None if budget is None else float(budget),
            spent_usd=_money(row["spent_usd"]),
        )

    async def record(self, entry: NewJournalEntry, event: NewEvent | None = None) -> int:
        """Store a response, and ``event`` with it, in one transaction; return the row id.

        The event's data gains ``journal_id``. Committed when this returns.

        Raises:
            LeaseLost: the event's thread was taken over by another claim (nothing recorded).
        """
        query, params = self._insert(entry, event)
        with lease_errors():
            async with self._pool.connection() as conn:
                cursor = await conn.execute(query, params)
                row = await cursor.fetchone()
        assert row is not None
        return int(row["id"])

    async def record_shared(self, entry: NewJournalEntry, event: NewEvent) -> None:
        """:meth:`record`, in a transaction that may also carry other threads' responses.

        With many threads in flight, their responses arrive together: they are committed in
        shared transactions (group commit) instead of one commit each. A failure stays the
        failing call's own (the others are committed without it). Committed when this
        returns, like :meth:`record`.

        Raises:
            LeaseLost: the event's thread was taken over by another claim (nothing recorded).
        """
        query, params = self._insert(entry, event)
        held = HeldWrites(rows=[(query, [params])])
        lease = params["event_lease"]
        fence = None if lease is None else (event.thread_id, lease)
        await self._committer.commit(fence, held, thread_id=event.thread_id, self_fenced=True)

    def _insert(
        self, entry: NewJournalEntry, event: NewEvent | None
    ) -> tuple[LiteralString, dict[str, Any]]:
        params = {
            **entry.key.params(),
            "attempt": entry.attempt,
            "model": entry.model,
            "request": jsonb(dict(entry.request)),
            "response": jsonb(dict(entry.response)),
            "prompt_tokens": entry.prompt_tokens,
            "completion_tokens": entry.completion_tokens,
            "usd": Decimal(repr(entry.usd)),
            "owner": entry.owner,
        }
        if event is None:
            return QUERIES.journal_insert, params
        lease = self._leases.of(event.thread_id) if self._leases is not None else None
        params.update((f"event_{k}", v) for k, v in event_params(event, lease).items())
        return QUERIES.journal_insert_with_event, params

    async def entries(self, thread_id: str) -> builtins.list[JournalEntry]:
        """Every paid LLM call of ``thread_id``, oldest first (the per-call cost detail)."""
        async with self._pool.connection() as conn:
            cursor = await conn.execute(QUERIES.journal_entries, {"thread_id": thread_id})
            rows = await cursor.fetchall()
        return [JournalEntry.from_row(row) for row in rows]

    async def cost(self, thread_id: str) -> CostSummary:
        """What ``thread_id``'s LLM calls cost (see :class:`CostSummary`)."""
        async with self._pool.connection() as conn:
            cursor = await conn.execute(QUERIES.journal_cost, {"thread_id": thread_id})
            row = await cursor.fetchone()
        assert row is not None
        per_node = {
            node: NodeCost(
                usd=_money(item["usd"]),
                prompt_tokens=int(item["prompt_tokens"]),
                completion_tokens=int(item["completion_tokens"]),
                calls=int(item["calls"]),
            )
            for node, item in sorted((row["per_node"] or {}).items())
        }
        return CostSummary(
            usd=_money(row["usd"]),
            prompt_tokens=int(row["prompt_tokens"]),
            completion_tokens=int(row["completion_tokens"]),
            calls=int(row["calls"]),
            replayed_calls=int(row["replayed_calls"]),
            saved_usd=_money(row["saved_usd"]),
            per_node=per_node,
        )

    async def get_budget(self, thread_id: str) -> float | None:
        """The budget of ``thread_id`` in US dollars, or None when it has none."""
        async with self._pool.connection() as conn:
            cursor = await conn.execute(QUERIES.get_thread_budget, {"thread_id": thread_id})
            row = await cursor.fetchone()
        return None if row is None else float(row["usd"])

    async def set_budget(self, thread_id: str, usd: float | None) -> None:
        """Set (or with ``None`` remove) the budget of ``thread_id`` in US dollars.

        The budget bounds the thread's total LLM spend, across runs and processes; raising it
        lets a thread paused with ``budget_exceeded`` go on when resumed.

        Raises:
            ConfigurationError: ``usd`` is negative or not a finite number.
        """
        if usd is None:
            async with self._pool.connection() as conn:
                await conn.execute(QUERIES.clear_thread_budget, {"thread_id": thread_id})
            return
        if isinstance(usd, bool) or not isinstance(usd, int | float) or not math.isfinite(usd):
            raise ConfigurationError(
                f"budget must be a finite number of US dollars, got {usd!r}",
                hint="give e.g. --budget-usd 0.50",
            )
        if usd < 0:
            raise ConfigurationError(
                f"budget must be >= 0 US dollars, got {usd!r}", hint="give e.g. --budget-usd 0.50"
            )
        async with self._pool.connection() as conn:
            await conn.execute(
                QUERIES.set_thread_budget, {"thread_id": thread_id, "usd": Decimal(repr(usd))}
            )


async def thread_cost(pool: AsyncPool, thread_id: str) -> CostSummary:
    """What ``thread_id``'s LLM calls cost: tokens, dollars, replays and savings.

    ``usd`` counts every response paid for (retries included, failed calls carry no usage);
    ``saved_usd`` counts what durability avoided paying again, see :class:`CostSummary`.
    """
    return await LlmJournal(pool).cost(thread_id)
