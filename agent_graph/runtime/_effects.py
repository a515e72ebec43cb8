"""Idempotent side effects: claim -> perform -> record under an idempotency key, in Postgres.

Inside a durable node, :func:`effect` (or a function decorated with :func:`idempotent`) looks the
key up in the ledger first: a recorded effect returns its stored result without acting again; an
effect claimed but never recorded (the process died between acting and recording) is reconciled
with the caller's ``lookup`` before acting again. The key is handed to the action so it can send
it to the remote side (e.g. an ``Idempotency-Key`` header) and let that side deduplicate too.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any, Concatenate, ParamSpec, TypeVar, cast

from langchain_core.runnables import RunnableConfig

from checkpointers import NewEvent, content_hash
from policies import Fatal

from ._context import DurableContext, NodeRun, current_scope, durable_context
from ._saga import Undo

T = TypeVar("T")
P = ParamSpec("P")

#: What to do to undo an effect: a fixed :class:`Undo`, or one computed from the effect's result.
CompensateSpec = Undo | Callable[[Any], Undo | None] | None


class InvalidEffect(Fatal):
    """An effect was declared with a bad name, content or result (a programming error)."""

    default_hint = "effects take a non-empty name and plain JSON data (dicts, lists, str, numbers)"


class EffectCompensated(Fatal):
    """The effect was undone by a compensation: its thread was rolled back and cannot go on."""

    def __init__(self, key: str, name: str, thread_id: str) -> None:
        super().__init__(
            f"effect {name!r} (key {key!r}) of thread {thread_id!r} was compensated",
            hint="a compensated thread is final: start a new thread to do the work again",
        )
        self.key = key


def effect_key(thread_id: str, node: str | None, name: str, content: Any) -> str:
    """The default idempotency key: SHA-256 of the thread, node, effect name and content.

    Raises:
        InvalidEffect: ``content`` is not JSON-serialisable.
    """
    canonical = _canonical(name, ["agent_graph.effect", thread_id, node, name, content])
    return hashlib.sha256(canonical.encode()).hexdigest()


async def effect(
    name: str,
    action: Callable[[str], Awaitable[T]],
    *,
    key: str | None = None,
    content: Any = None,
    lookup: Callable[[str], Awaitable[T | None]] | None = None,
    compensate: CompensateSpec = None,
    config: RunnableConfig | None = None,
) -> T:
    """Perform a side effect at most once per idempotency key.

    In a durable node the effect is claimed in the ledger, performed (``await action(key)``) and
    its result recorded. Called again with the same key (a retry, a resume after a crash), it
    returns the recorded result without acting (event ``effect_reused``). A claim left without a
    record is first settled by ``await lookup(key)`` ("does the post with this key exist?"): a
    result other than None is recorded as the effect's (event ``effect_reconciled``), else the
    action runs again with the same key. Failpoints ``effect:NAME:before`` (claimed, not acted)
    and ``effect:NAME:after`` (acted, not recorded) surround the action. If the action raises,
    the claim stays and the node's next attempt reconciles it the same way. Outside a durable
    node the action simply runs.

    Args:
        name: what the effect is, e.g. ``create_post``.
        action: the coroutine function that acts, given the key (send it to the remote side).
        key: the idempotency key; by default :func:`effect_key` of the thread, node, name and
            ``content``.
        content: JSON data describing what the effect does; a key reused with other content is
            an error.
        lookup: finds the effect's result on the remote side by key, or returns None.
        compensate: how to undo the effect if the thread is compensated: an :class:`Undo`, or a
            function from the effect's result to one.
        config: the node's config; only needed where the durable scope is not set.

    Returns:
        The action's result, as stored in the ledger (JSON data: tuples come back as lists).

    Raises:
        IdempotencyKeyConflict: ``key`` is recorded for another effect or other content.
        EffectCompensated: the effect recorded under ``key`` was undone by :func:`compensate`.
        InvalidEffect: an empty name, or content or result that is not JSON data.
    """
    if not name:
        raise InvalidEffect("an effect needs a non-empty name")
    ctx, run, attempt = _where(config)
    digest = _digest(name, content)
    if key is None:
        key = effect_key(run.thread_id if run else "", run.node if run else None, name, content)
    if ctx is None or run is None:
        return await action(key)

    def event(kind: str, **data: Any) -> NewEvent:
        details = {"effect": name, "key": key, **data}
        return NewEvent(run.thread_id, kind, run.node, run.task_id, attempt, ctx.owner, details)

    if run.task_id is not None:
        done, earlier = ctx.deferred_effect(run.task_id, key)
        if done:  # done earlier in this task; its record is saved with the task's writes
            ctx.defer_event(run.task_id, event("effect_reused"))
            return cast(T, earlier)
    ledger = ctx.ledger
    claim = await ledger.claim(
        key,
        thread_id=run.thread_id,
        node=run.node,
        name=name,
        digest=digest,
        owner=ctx.owner,
        # the records of this task's earlier effects ride in this claim's transaction
        held=ctx.take_task_writes(run.task_id) if run.task_id is not None else None,
    )
    if not claim.fresh:
        record = claim.record
        if record.status == "claimed":
            record = (
                await ledger.reclaim(key, ctx.owner, run.thread_id)
                or await ledger.get(key)
                or record
            )
        if record.status in ("compensating", "compensated"):
            raise EffectCompensated(key, name, record.thread_id)
        if record.status != "claimed":
            await ctx.events.append_many([event("effect_reused")])
            return cast(T, record.result)
        if lookup is not None:
            found = await lookup(key)
            if found is not None:
                stored = _stored(name, found)
                undo = _undo(compensate, stored)
                await ledger.record(key, stored, undo, event("effect_reconciled", found=True))
                return cast(T, stored)
        reconciled = event("effect_reconciled", found=False, lookup=lookup is not None)
        await ctx.events.append_many([reconciled])
    ctx.failpoints.hit(f"effect:{name}:before")
    result = await action(key)
    ctx.failpoints.hit(f"effect:{name}:after")
    stored = _stored(name, result)
    performed = event("effect_performed")
    if run.task_id is not None:
        # recorded in the node's checkpoint transaction (one commit less per effect): a crash
        # before it leaves the claim unrecorded, which a re-run reconciles like any other
        ctx.defer_effect(run.task_id, key, stored, _undo(compensate, stored), performed)
    else:
        await ledger.record(key, stored, _undo(compensate, stored), performed)
    return cast(T, stored)


async def side_effect(
    name: str,
    config: RunnableConfig,
    action: Callable[[str], Awaitable[T]],
    *,
    key: str | None = None,
    content: Any = None,
    lookup: Callable[[str], Awaitable[T | None]] | None = None,
    compensate: CompensateSpec = None,
) -> T:
    """:func:`effect` with the node's config first (the original signature of this helper).

    Args:
        name: what the effect is, e.g. ``publish``.
        config: the node's config (gives the thread and the durable context).
        action: the coroutine function that acts, given the key.
        key: the idempotency key (derived from the thread, node, name and content if None).
        content: JSON data describing the effect.
        lookup: see :func:`effect`.
        compensate: see :func:`effect`.
    """
    return await effect(
        name, action, key=key, content=content, lookup=lookup, compensate=compensate, config=config
    )


def idempotent(
    name: str,
    *,
    lookup: Callable[[str], Awaitable[Any]] | None = None,
    compensate: CompensateSpec = None,
    key: Callable[..., str] | None = None,
) -> Idempotent:
    """Decorator making ``async def fn(key, *args, **kwargs)`` an idempotent effect.

    Calling the decorated function (without the key) runs it through :func:`effect`, with the
    call's arguments as the effect's content, so the key is derived from the thread, the node,
    ``name`` and the arguments, unless ``key`` computes it from the arguments.

    Args:
        name: what the effect is.
        lookup: see :func:`effect`.
        compensate: see :func:`effect`.
        key: computes the idempotency key from the call's arguments.
    """
    return Idempotent(name, lookup, compensate, key)


class Idempotent:
    """The decorator returned by :func:`idempotent` (keeps the decorated signature, minus key)."""

    def __init__(
        self,
        name: str,
        lookup: Callable[[str], Awaitable[Any]] | None,
        compensate: CompensateSpec,
        key: Callable[..., str] | None,
    ) -> None:
        self.name, self.lookup, self.compensate, self.key = name, lookup, compensate, key

    def __call__(
        self, fn: Callable[Concatenate[str, P], Awaitable[T]]
    ) -> Callable[P, Awaitable[T]]:
        @functools.wraps(fn)
        async def run(*args: P.args, **kwargs: P.kwargs) -> T:
            async def act(effect_key: str) -> T:
                return await fn(effect_key, *args, **kwargs)

            return await effect(
                self.name,
                act,
                key=self.key(*args, **kwargs) if self.key is not None else None,
                content={"args": list(args), "kwargs": kwargs},
                lookup=self.lookup,
                compensate=self.compensate,
            )

        return run


def _where(
    config: RunnableConfig | None,
) -> tuple[DurableContext | None, NodeRun | None, int | None]:
    scope = current_scope()
    if scope is not None:
        return scope.ctx, scope.run, scope.attempt
    if config is None:
        return None, None, None
    node = str(config.get("metadata", {}).get("langgraph_node", ""))
    return durable_context(config), NodeRun.from_config(node, config), None


def _canonical(name: str, value: Any) -> str:
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise InvalidEffect(f"the content of effect {name!r} is not JSON data: {exc}") from None


def _digest(name: str, content: Any) -> str:
    _canonical(name, content)
    return content_hash(name, content)


def _stored(name: str, result: Any) -> Any:
    try:
        return json.loads(json.dumps(result))
    except (TypeError, ValueError) as exc:
        raise InvalidEffect(
            f"the result of effect {name!r} is not JSON data: {exc}",
            hint="return plain JSON data from the action: the ledger stores and replays it",
        ) from None


def _undo(compensate: CompensateSpec, result: Any) -> dict[str, Any] | None:
    undo = compensate(result) if callable(compensate) else compensate
    if undo is None:
        return None
    _canonical(undo.name, dict(undo.args))
    return undo.to_json()
