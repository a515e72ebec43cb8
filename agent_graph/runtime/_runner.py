"""The runner: start, resume, inspect and stop threads of a durable graph by thread ID."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any
from uuid import UUID

from langchain_core.callbacks import AsyncCallbackHandler
from langchain_core.outputs import LLMResult
from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph
from pydantic import BaseModel

from checkpointers import DeadLetterStore, NewEvent, thread_cost
from policies import redact

from .._errors import (
    InvalidThreadId,
    StopRequested,
    ThreadBusy,
    ThreadCompensated,
    ThreadNotFound,
    ThreadUnfinished,
)
from ..llm._budget import BudgetExceeded
from ._context import DurableContext, owner_is_alive
from ._dead_letters import record_dead_letter
from ._failure import PATCH_KEY, FailureReport, NodeDeadLettered
from ._operations import HumanOperations
from ._records import REGISTRY_STATES, NodeExecution, ThreadStatus, node_executions
from ._saga import CompensationFailed, compensate

logger = logging.getLogger(__name__)

_THREAD_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")
ProgressCallback = Callable[[str, str], None]


def check_thread_id(thread_id: str) -> str:
    """Return ``thread_id`` if well-formed, else raise :class:`InvalidThreadId`."""
    if not _THREAD_ID.match(thread_id):
        raise InvalidThreadId(
            f"malformed thread ID {thread_id!r}",
            hint="use 1-128 characters: letters, digits and . _ : @ -, starting with a letter "
            "or digit",
        )
    return thread_id


class _LlmFailpoints(AsyncCallbackHandler):
    """Fires ``llm:NODE:response`` failpoints once a model response has arrived."""

    def __init__(self, ctx: DurableContext) -> None:
        self.ctx = ctx
        self.nodes: dict[UUID, str] = {}

    async def on_chat_model_start(
        self, serialized: dict[str, Any], messages: Any, *, run_id: UUID, **kwargs: Any
    ) -> None:
        metadata = kwargs.get("metadata") or {}
        self.nodes[run_id] = str(metadata.get("langgraph_node", "*"))

    async def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        node = self.nodes.pop(run_id, "*")
        self.ctx.failpoints.hit(f"llm:{node}:response")


class Runner(HumanOperations):
    """Drives threads of one compiled durable graph.

    Args:
        graph: the graph, wrapped with :func:`make_durable` and compiled with a durable saver.
        ctx: the durable context of this process (the saver's).
        graph_name: recorded in the run registry.
        result_of: picks the result shown by :meth:`status` out of a completed thread's values.
    """

    def __init__(
        self,
        graph: CompiledStateGraph[Any, Any, Any, Any],
        ctx: DurableContext,
        *,
        graph_name: str,
        result_of: Callable[[Mapping[str, Any]], Any] | None = None,
        heartbeat_seconds: float | None = 5.0,
    ) -> None:
        self.graph = graph
        self.ctx = ctx
        self.graph_name = graph_name
        self.result_of = result_of or _jsonable_values
        self.heartbeat_seconds = heartbeat_seconds
        self.dead_letters = DeadLetterStore(ctx.pool)

    @staticmethod
    def config(thread_id: str) -> RunnableConfig:
        """The LangGraph config addressing ``thread_id``."""
        return {"configurable": {"thread_id": thread_id}}

    async def start(
        self, thread_id: str, graph_input: Any, *, on_step: ProgressCallback | None = None
    ) -> ThreadStatus:
        """Start a new thread with ``graph_input`` and run it to the end.

        A thread that already completed is not run again: its status is returned. A thread that
        exists and is unfinished is refused, since new input would discard its pending work.

        Raises:
            InvalidThreadId: malformed ID.
            ThreadUnfinished: the thread has pending work; resume it instead.
            ThreadBusy: another live process runs the thread.
        """
        check_thread_id(thread_id)
        snapshot = await self.graph.aget_state(self.config(thread_id))
        if snapshot.created_at is not None:
            if not snapshot.next and not snapshot.tasks:
                return await self.status(thread_id)
            raise ThreadUnfinished(thread_id, tuple(snapshot.next))
        payload = graph_input.model_dump() if isinstance(graph_input, BaseModel) else graph_input
        await self.ctx.runs.create(thread_id, self.graph_name, payload)
        return await self._drive(thread_id, payload, "run_started", on_step)

    async def resume(
        self, thread_id: str, *, on_step: ProgressCallback | None = None
    ) -> ThreadStatus:
        """Continue a thread from its last checkpoint; completed nodes are not run again.

        Raises:
            ThreadNotFound: no checkpoint and no run exist for the ID.
            ThreadBusy: another live process runs the thread.
        """
        check_thread_id(thread_id)
        snapshot = await self.graph.aget_state(self.config(thread_id))
        if snapshot.created_at is None:
            raise ThreadNotFound(thread_id)
        run = await self.ctx.runs.get(thread_id)
        if not snapshot.next and not snapshot.tasks:
            if run is not None and run.status == "running" and not self._alive(run.owner):
                # its process died after the last checkpoint, before recording the end
                await self._finish(thread_id, "completed", "run_completed")
            return await self.status(thread_id)
        if run is not None and run.status == "compensating":
            # killed while rolling back: finish the rollback, nothing else
            await self._compensate(thread_id, run.error)
            return await self.status(thread_id)
        if run is not None and run.status == "compensated":
            raise ThreadCompensated(thread_id)
        if run is not None and run.status == "dead_lettered":
            # resuming a dead-lettered thread is a redrive: its letter is closed
            letters = [x for x in await self.dead_letters.list() if x.thread_id == thread_id]
            if letters:
                return await self.redrive(letters[-1].id, on_step=on_step)
        return await self._drive(thread_id, None, "run_resumed", on_step)

    async def status(self, thread_id: str) -> ThreadStatus:
        """Describe a thread.

        Raises:
            ThreadNotFound: no checkpoint and no run exist for the ID.
        """
        check_thread_id(thread_id)
        snapshot = await self.graph.aget_state(self.config(thread_id))
        run = await self.ctx.runs.get(thread_id)
        if snapshot.created_at is None and run is None:
            raise ThreadNotFound(thread_id)
        events = await self.ctx.events.list(thread_id, kinds=["node_completed"])
        completed = [e.node for e in events if e.node]
        interrupts = [i for task in snapshot.tasks for i in task.interrupts]
        status: str
        if snapshot.created_at is not None and not snapshot.next and not snapshot.tasks:
            status = "completed"
        elif run is not None and run.status in REGISTRY_STATES:
            status = run.status
        elif interrupts:
            status = "waiting_for_human"
        elif run is not None and run.status == "running" and self._alive(run.owner):
            status = "running"
        else:
            status = "incomplete"
        checkpoint = snapshot.config.get("configurable", {}) if snapshot.config else {}
        return ThreadStatus(
            thread_id=thread_id,
            status=status,
            next=list(snapshot.next),
            completed_nodes=completed,
            result=self.result_of(snapshot.values) if status == "completed" else None,
            error=run.error if run is not None and status != "completed" else None,
            owner=run.owner if run is not None else None,
            recoveries=run.recoveries if run is not None else 0,
            checkpoint_id=checkpoint.get("checkpoint_id"),
            updated_at=snapshot.created_at,
            question=interrupts[0].value if interrupts else None,
            cost=(await thread_cost(self.ctx.pool, thread_id)).to_dict(),
        )

    async def history(self, thread_id: str) -> list[NodeExecution]:
        """Every node execution of a thread, in the order they started.

        Raises:
            ThreadNotFound: the thread is unknown.
        """
        check_thread_id(thread_id)
        events = await self.ctx.events.list(thread_id)
        if not events and await self.ctx.runs.get(thread_id) is None:
            raise ThreadNotFound(thread_id)
        return node_executions(events)

    def _alive(self, owner: str | None) -> bool:
        if owner == self.ctx.owner:
            return True
        alive = owner_is_alive(owner)
        # another host: trust the heartbeat (checked by the registry's staleness rules later)
        return bool(alive) if alive is not None else True

    async def _drive(
        self,
        thread_id: str,
        graph_input: Any,
        event_kind: str,
        on_step: ProgressCallback | None,
        *,
        patches: dict[str, dict[str, Any]] | None = None,
        data: dict[str, Any] | None = None,
    ) -> ThreadStatus:
        run = await self.ctx.runs.get(thread_id)
        if (
            run is not None
            and run.status == "running"
            and run.owner != self.ctx.owner
            and owner_is_alive(run.owner)
        ):
            raise ThreadBusy(thread_id, run.owner or "another process")
        previous = await self.ctx.runs.claim(thread_id, self.ctx.owner)
        data = {"graph": self.graph_name, **(data or {})}
        events = [NewEvent(thread_id, event_kind, owner=self.ctx.owner, data=data)]
        if event_kind == "run_started":
            self.ctx.remember_attempts(thread_id, {})  # a new thread: no earlier attempts
        else:
            self.ctx.forget_attempts(thread_id)
        if previous is not None and previous.status == "running" and event_kind == "run_resumed":
            data["recovered_from"] = previous.owner
            data["recoveries"] = await self.ctx.runs.increment_recoveries(thread_id)
            events += await self._interrupted(thread_id, previous.owner)
        await self.ctx.events.append_many(events)
        config = self.config(thread_id)
        if self.ctx.failpoints.watches("llm:"):
            config["callbacks"] = [_LlmFailpoints(self.ctx)]
        if patches:
            config["configurable"][PATCH_KEY] = patches
        try:
            async with self._heartbeat(thread_id):
                async for chunk in self.graph.astream(
                    graph_input, config, stream_mode="updates", durability="sync"
                ):
                    if on_step is not None:
                        for node in chunk:
                            on_step(thread_id, node)
        except StopRequested:
            await self._finish(thread_id, "incomplete", "run_stopped")
        except NodeDeadLettered as failure:
            await self._dead_letter(thread_id, failure.report)
        except BudgetExceeded as over:
            paused = {
                "reason": "budget_exceeded",
                "node": over.node,
                "spent_usd": over.spent,
                "budget_usd": over.budget,
                "needed_usd": over.needed,
            }
            await self._finish(thread_id, "budget_exceeded", "run_paused", paused)
        except Exception as exc:
            error = {"error_type": type(exc).__name__, "message": redact(str(exc))[:500]}
            await self._finish(thread_id, "failed", "run_failed", error)
            logger.warning(
                "thread %s failed: %s", thread_id, error["message"], extra={"thread_id": thread_id}
            )
        else:
            snapshot = await self.graph.aget_state(self.config(thread_id))
            if not snapshot.next and not snapshot.tasks:
                await self._finish(thread_id, "completed", "run_completed")
            elif any(task.interrupts for task in snapshot.tasks):
                await self._finish(thread_id, "waiting_for_human", "run_paused")
            else:
                await self._finish(thread_id, "incomplete", "run_stopped")
        finally:
            self.ctx.forget_attempts(thread_id)
        return await self.status(thread_id)

    async def _interrupted(self, thread_id: str, owner: str | None) -> list[NewEvent]:
        """``node_interrupted`` events for the tasks a crashed process left unfinished.

        They count as attempts (and toward the crash-loop limit); a task that was waiting out
        a backoff after a recorded failure was not running, so it is not counted again.
        """
        snapshot = await self.graph.aget_state(self.config(thread_id))
        earlier = await self.ctx.events.attempts(thread_id)
        return [
            NewEvent(
                thread_id,
                "node_interrupted",
                task.name,
                task.id,
                None,
                self.ctx.owner,
                {"crashed_owner": owner},
            )
            for task in snapshot.tasks
            if task.result is None
            and not task.interrupts
            and task.error is None
            and (earlier.get(task.id) is None or earlier[task.id].last_kind != "node_failed")
        ]

    async def _finish(
        self, thread_id: str, status: str, event: str, error: dict[str, Any] | None = None
    ) -> None:
        await self.ctx.runs.set_status(thread_id, status, error=error, owner=self.ctx.owner)
        await self.ctx.events.append(thread_id, event, owner=self.ctx.owner, data=error)

    async def dead_letter(self, thread_id: str, report: FailureReport) -> None:
        """Put a thread in the dead-letter queue (and compensate its side effects).

        For failures found outside a node, e.g. a worker fleet that sees a thread crash its
        workers again and again.
        """
        await self._dead_letter(thread_id, report)

    async def _dead_letter(self, thread_id: str, report: FailureReport) -> None:
        snapshot = await self.graph.aget_state(self.config(thread_id))
        checkpoint_id = (snapshot.config or {}).get("configurable", {}).get("checkpoint_id")
        letter = await record_dead_letter(
            self.ctx, thread_id, report, graph=self.graph_name, checkpoint_id=checkpoint_id
        )
        error = {**report.classification.to_dict(), "dead_letter_id": letter.id}
        await self._finish(thread_id, "dead_lettered", "dead_lettered", error)
        await self._compensate(thread_id, error)

    async def _compensate(self, thread_id: str, error: dict[str, Any] | None) -> None:
        """Undo the thread's recorded side effects, newest first (a saga's rollback)."""
        run = await self.ctx.runs.get(thread_id)
        resuming = run is not None and run.status == "compensating"
        await self.ctx.runs.set_status(thread_id, "compensating", error=error)
        try:
            undone = await compensate(self.ctx, thread_id)
        except CompensationFailed as exc:
            failure = {"error_type": "CompensationFailed", "message": redact(str(exc))[:500]}
            await self._finish(thread_id, "failed", "compensation_failed", failure)
            return
        if not undone and not resuming:
            await self.ctx.runs.set_status(thread_id, "dead_lettered", error=error)
            return
        letter_id = (error or {}).get("dead_letter_id")
        if isinstance(letter_id, int):
            await self.dead_letters.close(letter_id, "compensated")
        await self.ctx.runs.set_status(thread_id, "compensated", error=error)
        await self.ctx.events.append(
            thread_id, "thread_compensated", owner=self.ctx.owner, data={"undone": undone}
        )

    @contextlib.asynccontextmanager
    async def _heartbeat(self, thread_id: str) -> AsyncIterator[None]:
        async def beat() -> None:
            while True:
                await asyncio.sleep(self.heartbeat_seconds or 0)
                await self.ctx.runs.heartbeat(self.ctx.owner, [thread_id])

        if self.heartbeat_seconds is None:  # someone else beats (e.g. a fleet worker)
            yield
            return
        task = asyncio.create_task(beat())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _jsonable_values(values: Mapping[str, Any]) -> Any:
    return {
        key: value.model_dump(mode="json") if isinstance(value, BaseModel) else value
        for key, value in values.items()
    }
