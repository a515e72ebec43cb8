"""Side effects performed by nodes: failpoints around them and an event recording each one."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from langchain_core.runnables import RunnableConfig

from ._context import NodeRun, durable_context

T = TypeVar("T")


async def side_effect(
    name: str,
    config: RunnableConfig,
    action: Callable[[str], Awaitable[T]],
    *,
    key: str,
) -> T:
    """Perform a side effect under an idempotency key.

    The key is handed to ``action``, which should pass it to the remote side (for example as an
    ``Idempotency-Key`` header) so that a repeated call is deduplicated there. Failpoints
    ``effect:NAME:before`` and ``effect:NAME:after`` surround the call, and an ``effect_performed``
    event records it.

    Args:
        name: what the effect is, e.g. ``publish``.
        config: the node's config (gives the thread and the durable context).
        action: the coroutine function that acts, given the key.
        key: the idempotency key.
    """
    ctx = durable_context(config)
    if ctx is None:
        return await action(key)
    node = str(config.get("metadata", {}).get("langgraph_node", ""))
    run = NodeRun.from_config(node, config)
    ctx.failpoints.hit(f"effect:{name}:before")
    result = await action(key)
    ctx.failpoints.hit(f"effect:{name}:after")
    data: dict[str, Any] = {"effect": name, "key": key}
    await ctx.events.append(
        run.thread_id,
        "effect_performed",
        node=run.node,
        task_id=run.task_id,
        owner=ctx.owner,
        data=data,
    )
    return result
