"""The idempotency ledger (``agent_graph_effects``): side effects recorded by idempotency key.

A side effect goes ``claimed`` (about to act) -> ``done`` (result stored); its compensation goes
``done`` -> ``compensating`` (undo about to run) -> ``compensated``. A row left ``claimed`` or
``compensating`` means a process died (or the action failed) between acting and recording: the
caller reconciles it before acting again. Recording a transition commits its event in the same
transaction, so the event log never disagrees with the ledger.
"""

from __future__ import annotations

import builtins
import dataclasses
import hashlib
import json
from datetime import datetime
from typing import Any, LiteralString

from checkpointers._events import event_params
from checkpointers._group_commit import GroupCommitter
from checkpointers._held_writes import HeldWrites, TaskRows
from checkpointers._leases import Leases, lease_errors
from checkpointers._models import NewEvent, _Record, jsonb
from checkpointers._pool import AsyncPool
from checkpointers._queries import QUERIES
from policies import Fatal

__all__ = ["EffectClaim", "EffectLedger", "EffectRecord", "IdempotencyKeyConflict", "content_hash"]

_CLAIM_TRIES = 3


class IdempotencyKeyConflict(Fatal):
    """An idempotency key already names another effect or the same effect with other content."""

    def __init__(self, key: str, name: str, existing: str) -> None:
        super().__init__(
            f"idempotency key {key!r} was already used by effect {existing!r} with different "
            f"content than this {name!r} call",
            hint="derive the key from everything that makes the effect distinct, or pass "
            "key=None to derive it from the thread, node, effect name and content",
        )
        self.key = key
        self.name = name


def content_hash(name: str, content: Any) -> str:
    """SHA-256 of an effect's name and the canonical JSON of its content.

    Raises:
        TypeError: ``content`` is not JSON-serialisable.
    """
    canonical = json.dumps(
        [name, content], sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclasses.dataclass(frozen=True, slots=True)
class EffectRecord(_Record):
    """One row of ``agent_graph_effects``.

    ``compensation`` is ``{"name": ..., "args": {...}}`` when the effect registered an undo;
    ``claims`` counts how many times the effect was claimed (more than 1: it was reconciled).
    """

    key: str
    seq: int
    thread_id: str
    node: str | None
    name: str
    content_hash: str
    status: str
    result: Any
    compensation: dict[str, Any] | None
    compensation_result: Any
    claims: int
    claimed_by: str | None
    claimed_at: datetime
    done_at: datetime | None
    compensated_at: datetime | None


@dataclasses.dataclass(frozen=True, slots=True)
class EffectClaim:
    """What :meth:`EffectLedger.claim` found: the row, and whether this call inserted it."""

    record: EffectRecord
    fresh: bool


class EffectLedger:
    """Claim, record and compensate side effects by idempotency key.

    Args:
        pool: a pool from :func:`open_async_pool` over a database set up with
            :func:`setup_database`.
        leases: the leases this process holds; claims and records of a thread held there are
            fenced (:class:`LeaseLost` once another claim took the thread over).
        committer: commits claims, in transactions shared with other threads' writes when
            several arrive at once (a new one by default).
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

    async def claim(
        self,
        key: str,
        *,
        thread_id: str,
        node: str | None,
        name: str,
        digest: str,
        owner: str,
        held: HeldWrites | None = None,
    ) -> EffectClaim:
        """Insert a ``claimed`` row for ``key``, or return the row already there.

        Args:
            key: the idempotency key.
            thread_id: the thread performing the effect.
            node: the node performing it, if any.
            name: what the effect is (e.g. ``create_post``).
            digest: :func:`content_hash` of the effect's name and content.
            owner: the claiming process.
            held: writes to commit in the claim's transaction (e.g. the record of the effect
                the same node performed just before: it costs no commit of its own then).

        The claim is committed when this returns, in a transaction it may share with other
        threads' claims and journal rows (group commit); a failure stays this claim's own.

        Raises:
            IdempotencyKeyConflict: the key is already recorded with another name or content.
            LeaseLost: the thread was taken over by another claim (nothing was claimed).
        """
        lease = self._lease(thread_id)
        params = {
            "key": key,
            "thread_id": thread_id,
            "node": node,
            "name": name,
            "content_hash": digest,
            "owner": owner,
            "lease": lease,
        }
        fence = None if lease is None else (thread_id, lease)
        for _ in range(_CLAIM_TRIES):
            # the claim statement fences itself, not the rows riding along
            row = await self._committer.commit(
                fence,
                held or HeldWrites(),
                thread_id=thread_id,
                fetch=(QUERIES.claim_effect, params),
                self_fenced=not held,
            )
            held = None
            # No row: a concurrent claim committed after this statement's snapshot; read again.
            if row is not None:
                break
        else:  # pragma: no cover - needs a claim racing three times in a row
            raise RuntimeError(f"could not claim idempotency key {key!r}")
        fresh = bool(row.pop("fresh"))
        record = EffectRecord.from_row(row)
        if record.content_hash != digest:
            raise IdempotencyKeyConflict(key, name, record.name)
        return EffectClaim(record, fresh)

    async def reclaim(self, key: str, owner: str, thread_id: str) -> EffectRecord | None:
        """Take over a ``claimed`` row left by a crash or a failed action (counts the claim).

        Raises:
            LeaseLost: ``thread_id`` was taken over by another claim (nothing changed).
        """
        params = {"key": key, "owner": owner, "lease": self._lease(thread_id)}
        return await self._one(QUERIES.reclaim_effect, params)

    async def record(
        self,
        key: str,
        result: Any,
        compensation: dict[str, Any] | None,
        event: NewEvent | None = None,
    ) -> EffectRecord | None:
        """Mark a claimed effect ``done`` with its result and undo, committing ``event`` with it.

        Returns:
            The updated row, or None if the row was not ``claimed`` (then nothing changed).
        """
        params = {"key": key, "result": jsonb(result), "compensation": jsonb(compensation)}
        return await self._one(QUERIES.record_effect, params, event)

    @staticmethod
    def record_rows(key: str, result: Any, compensation: dict[str, Any] | None) -> TaskRows:
        """The statement of :meth:`record`, for a caller that commits it with other writes
        (a node's checkpoint): it marks the claimed effect ``done``."""
        params = {"key": key, "result": jsonb(result), "compensation": jsonb(compensation)}
        return QUERIES.record_effect, [params]

    async def begin_compensation(self, key: str) -> EffectRecord | None:
        """Move a ``done`` effect to ``compensating``; None if it was not ``done``."""
        return await self._one(QUERIES.begin_compensation, {"key": key})

    async def finish_compensation(
        self, key: str, result: Any, event: NewEvent | None = None
    ) -> EffectRecord | None:
        """Mark a ``compensating`` effect ``compensated``, committing ``event`` with it."""
        return await self._one(
            QUERIES.finish_compensation, {"key": key, "result": jsonb(result)}, event
        )

    async def get(self, key: str) -> EffectRecord | None:
        """The effect recorded under ``key``, or None."""
        return await self._one(QUERIES.get_effect, {"key": key})

    async def list(self, thread_id: str) -> builtins.list[EffectRecord]:
        """The effects of ``thread_id`` in the order they were first claimed."""
        async with self._pool.connection() as conn:
            cursor = await conn.execute(QUERIES.list_effects, {"thread_id": thread_id})
            rows = await cursor.fetchall()
        return [EffectRecord.from_row(row) for row in rows]

    def _lease(self, thread_id: str) -> int | None:
        return self._leases.of(thread_id) if self._leases is not None else None

    async def _one(
        self, query: LiteralString, params: dict[str, Any], event: NewEvent | None = None
    ) -> EffectRecord | None:
        # the event is fenced: a taken-over thread's record is rolled back with it
        with lease_errors():
            async with self._pool.connection() as conn:
                if event is None:  # one statement: no transaction of its own needed
                    cursor = await conn.execute(query, params)
                    row = await cursor.fetchone()
                    return None if row is None else EffectRecord.from_row(row)
                # pipelined: BEGIN and the statement in one round trip, event and COMMIT in another
                async with conn.pipeline(), conn.transaction():
                    cursor = await conn.execute(query, params)
                    row = await cursor.fetchone()
                    if row is not None:
                        lease = self._lease(event.thread_id)
                        await conn.execute(QUERIES.insert_event, event_params(event, lease))
        return None if row is None else EffectRecord.from_row(row)
