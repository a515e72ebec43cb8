"""Sagas: compensations of recorded side effects, run in reverse order when a thread is undone.

A side effect registers an :class:`Undo` (a compensation's *name* and JSON arguments) in the
idempotency ledger. The functions behind the names live in a :class:`Compensations` registry, so
a restarted process can run the undo of an effect another process performed. :func:`compensate`
runs them, newest first, each under the ledger (claim -> undo -> record), so a compensation that
completed is never run again, even when the process is killed in the middle of compensating.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from checkpointers import EffectLedger, EffectRecord, NewEvent
from policies import DurableAgentError, redact

from ._context import DurableContext

logger = logging.getLogger(__name__)

#: An undo or its lookup: called with the undo's arguments and its idempotency key.
UndoFn = Callable[[Mapping[str, Any], str], Awaitable[Any]]


@dataclass(frozen=True)
class Undo:
    """What undoes a side effect: a registered compensation's name and its JSON arguments.

    Args:
        name: a name registered with :func:`compensation` (or :meth:`Compensations.register`).
        args: JSON-serialisable arguments, stored in the ledger with the effect.
    """

    name: str
    args: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The form stored in the ledger."""
        return {"name": self.name, "args": dict(self.args)}


@dataclass(frozen=True)
class Compensation:
    """A registered compensation.

    Args:
        name: its name, as :class:`Undo` refers to it.
        undo: ``await undo(args, key)`` undoes the effect; should pass ``key`` to the remote side
            as an idempotency key, and treat "already undone" (e.g. a 404) as success.
        lookup: ``await lookup(args, key)`` tells, after a crash during the undo, whether it is
            already done (anything but None); without one the undo is simply run again.
    """

    name: str
    undo: UndoFn
    lookup: UndoFn | None = None


class CompensationFailed(DurableAgentError):
    """A compensation could not run (unknown name, or its undo raised)."""

    default_hint = "fix the cause, then run the compensation again: completed undos are not redone"


class Compensations:
    """A registry of compensations by name (the process-wide one is :data:`COMPENSATIONS`)."""

    def __init__(self) -> None:
        self._items: dict[str, Compensation] = {}

    def register(self, name: str, undo: UndoFn, *, lookup: UndoFn | None = None) -> Compensation:
        """Register (or replace) the compensation called ``name``."""
        item = Compensation(name, undo, lookup)
        self._items[name] = item
        return item

    def get(self, name: str) -> Compensation | None:
        """The compensation called ``name``, if registered."""
        return self._items.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._items


#: The process-wide registry used by default by :func:`compensation` and :func:`compensate`.
COMPENSATIONS = Compensations()


def compensation(
    name: str, *, lookup: UndoFn | None = None, registry: Compensations | None = None
) -> Callable[[UndoFn], UndoFn]:
    """Decorator registering ``async def undo(args, key)`` as the compensation ``name``.

    Register at import time of the module that defines it, so any process that may have to
    compensate (the one that resumes or aborts the thread) knows it.
    """

    def register(undo: UndoFn) -> UndoFn:
        (registry or COMPENSATIONS).register(name, undo, lookup=lookup)
        return undo

    return register


def undo_key(key: str) -> str:
    """The idempotency key of the compensation of the effect recorded under ``key``."""
    return f"{key}:undo"


async def compensate(
    ctx: DurableContext, thread_id: str, *, registry: Compensations | None = None
) -> int:
    """Undo the recorded side effects of ``thread_id``, newest first.

    Every effect that is ``done`` (or whose compensation was cut off by a crash) and registered
    an :class:`Undo` is compensated once: its row goes to ``compensating`` before the undo runs
    and to ``compensated`` (with a ``compensated`` event, in one transaction) after. A row found
    ``compensating`` is first checked with the compensation's lookup. Failpoints
    ``compensate:EFFECT:before`` / ``compensate:EFFECT:after`` surround each undo. Effects that
    were claimed but never recorded are not compensated (resume the thread to reconcile them).

    Args:
        ctx: the durable context (pool, events, failpoints).
        thread_id: the thread to undo.
        registry: where compensation names are resolved; :data:`COMPENSATIONS` by default.

    Returns:
        How many compensations this call completed.

    Raises:
        CompensationFailed: a compensation name is not registered, or an undo raised; the
            compensations after it (older effects) are left for the next call.
    """
    registry = registry or COMPENSATIONS
    ledger = ctx.ledger
    effects = await ledger.list(thread_id)
    pending = [
        e
        for e in reversed(effects)
        if e.compensation is not None and e.status in ("done", "compensating")
    ]
    unresolved = [e.key for e in effects if e.status == "claimed"]
    if not pending and not unresolved:
        return 0
    await ctx.events.append(
        thread_id,
        "compensation_started",
        owner=ctx.owner,
        data={"pending": [e.name for e in pending], "unresolved": unresolved},
    )
    done = 0
    for effect in pending:
        if await _compensate_one(ctx, ledger, registry, effect):
            done += 1
    return done


async def _compensate_one(
    ctx: DurableContext, ledger: EffectLedger, registry: Compensations, effect: EffectRecord
) -> bool:
    assert effect.compensation is not None
    name = str(effect.compensation.get("name", ""))
    args: Mapping[str, Any] = effect.compensation.get("args") or {}
    item = registry.get(name)
    if item is None:
        raise CompensationFailed(
            f"effect {effect.name!r} of thread {effect.thread_id!r} needs the compensation "
            f"{name!r}, which is not registered in this process",
            hint="import the module that registers it with @compensation(name), then try again",
        )
    key = undo_key(effect.key)
    event = NewEvent(
        effect.thread_id,
        "compensated",
        node=effect.node,
        owner=ctx.owner,
        data={"effect": effect.name, "key": effect.key, "compensation": name},
    )
    if effect.status == "compensating" and item.lookup is not None:
        found = await item.lookup(args, key)
        if found is not None:
            record = await ledger.finish_compensation(
                effect.key, found, _with(event, reconciled=True)
            )
            return record is not None
    elif effect.status == "done" and await ledger.begin_compensation(effect.key) is None:
        return False  # compensated meanwhile by someone else
    ctx.failpoints.hit(f"compensate:{effect.name}:before")
    try:
        result = await item.undo(args, key)
    except Exception as exc:
        message = redact(str(exc))[:500]
        await ctx.events.append(
            effect.thread_id,
            "compensation_failed",
            node=effect.node,
            owner=ctx.owner,
            data={"effect": effect.name, "key": effect.key, "error": message},
        )
        raise CompensationFailed(
            f"compensation {name!r} of effect {effect.name!r} failed: {message}"
        ) from exc
    ctx.failpoints.hit(f"compensate:{effect.name}:after")
    record = await ledger.finish_compensation(effect.key, _json_or_none(result), event)
    logger.info(
        "compensated %s",
        effect.name,
        extra={"thread_id": effect.thread_id, "effect": effect.name, "compensation": name},
    )
    return record is not None


def _with(event: NewEvent, **extra: Any) -> NewEvent:
    data = dict(event.data or {})
    data.update(extra)
    return NewEvent(event.thread_id, event.kind, event.node, None, None, event.owner, data)


def _json_or_none(value: Any) -> Any:
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError):
        return None
