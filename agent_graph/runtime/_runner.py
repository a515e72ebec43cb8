"""The runner: start, resume, inspect and stop threads of a durable graph by thread ID."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph

from checkpointers import DeadLetterStore, HookedAsyncPostgresSaver, LeaseLost, NewEvent, RunRecord
from policies import redact

from .._errors import (
    StopRequested,
    ThreadBusy,
    ThreadCompensated,
    ThreadNotFound,
)
from ..llm._budget import BudgetExceeded
from ._context import DurableContext, owner_is_alive
from ._dead_letters import record_dead_letter
from ._driving import INTERRUPT_KEY, interrupted_tasks, run_heartbeat, streams_every_interrupt
from ._failpoints import LlmFailpoints
from ._failure import PATCH_KEY, FailureReport, NodeDeadLettered
from ._inspection import describe_thread, driver_alive, thread_config
from ._operations import HumanOperations
from ._records import (
    NodeExecution,
    ThreadState,
    ThreadStatus,
    check_thread_id,
    jsonable_values,
    node_executions,
)
from ._runner_base import ProgressCallback
from ._saga import CompensationFailed, compensate
from ._starting import ThreadStarts

logger = logging.getLogger(__name__)

__all__ = ["ProgressCallback", "Runner"]


class Runner(ThreadStarts, HumanOperations):
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
        self.result_of = result_of or jsonable_values
        self.heartbeat_seconds = heartbeat_seconds
        self.dead_letters = DeadLetterStore(ctx.pool)
        # whether a run's end shows in its stream (else the state is read back to tell it)
        self._streams_interrupts = streams_every_interrupt(graph)

    @staticmethod
    def config(thread_id: str) -> RunnableConfig:
        """The LangGraph config addressing ``thread_id``."""
        return thread_config(thread_id)

    async def resume(
        self,
        thread_id: str,
        *,
        on_step: ProgressCallback | None = None,
        takeover: bool = False,
        describe: bool = True,
    ) -> ThreadStatus:
        """Continue a thread from its last checkpoint; completed nodes are not run again.

        A thread whose checkpoints were written outside the runner (plain LangGraph on the
        same graph and database) is registered as a run first, then resumed.

        Args:
            thread_id: the thread.
            on_step: called with the thread ID and node name after each node.
            takeover: claim the thread even if the process recorded as running it is alive
                (a fleet whose queue decided that its worker is gone, e.g. frozen): the old
                driver's lease is revoked, so it cannot write for the thread any more.
            describe: see :meth:`start`.

        Raises:
            ThreadNotFound: no checkpoint and no run exist for the ID.
            ThreadBusy: another live process runs the thread (and ``takeover`` is False).
            LeaseLost: another process claimed the thread while this one drove it.
        """
        check_thread_id(thread_id)
        snapshot = await self.graph.aget_state(self.config(thread_id))
        if snapshot.created_at is None:
            raise ThreadNotFound(thread_id)
        run = await self.ctx.runs.get(thread_id)
        if not snapshot.next and not snapshot.tasks:
            if (
                run is not None
                and run.status == "running"
                and not driver_alive(self.ctx, run.owner)
            ):
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
        data = None
        if run is None:
            # checkpoints written outside the runner (plain LangGraph: a script, a notebook,
            # Studio): register the run, then drive it like any other
            run = await self.ctx.runs.create(thread_id, self.graph_name, None)
            data = {"adopted": True}
        return await self._drive(
            thread_id,
            None,
            "run_resumed",
            on_step,
            takeover=takeover,
            describe=describe,
            run=run,
            data=data,
        )

    async def status(self, thread_id: str) -> ThreadStatus:
        """Describe a thread.

        Raises:
            InvalidThreadId: malformed ID.
            ThreadNotFound: no checkpoint and no run exist for the ID.
        """
        return await describe_thread(self.graph, self.ctx, thread_id, self.result_of)

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

    async def _drive(
        self,
        thread_id: str,
        graph_input: Any,
        event_kind: str,
        on_step: ProgressCallback | None,
        *,
        patches: dict[str, dict[str, Any]] | None = None,
        data: dict[str, Any] | None = None,
        takeover: bool = False,
        describe: bool = True,
        run: RunRecord | None = None,
    ) -> ThreadStatus:
        # ``run``: the thread's run as the caller just read or created it (saves a query)
        if run is None:
            run = await self.ctx.runs.get(thread_id)
        if (
            not takeover
            and run is not None
            and run.status == "running"
            and run.owner != self.ctx.owner
            and owner_is_alive(run.owner)
        ):
            raise ThreadBusy(thread_id, run.owner or "another process")
        claim = await self.ctx.runs.claim(thread_id, self.ctx.owner)

        async def drive() -> ThreadState | None:
            return await self._drive_claimed(
                thread_id,
                claim.previous,
                graph_input,
                event_kind,
                on_step,
                patches=patches,
                data=data,
            )

        return await self._drive_held(thread_id, claim.lease, drive, describe=describe)

    async def _drive_held(
        self,
        thread_id: str,
        lease: int,
        drive: Callable[[], Awaitable[ThreadState | None]],
        *,
        describe: bool,
    ) -> ThreadStatus:
        # From here on every write for the thread is fenced by this claim's lease.
        self.ctx.leases.hold(thread_id, lease)
        try:
            outcome = await drive()
        except LeaseLost:
            logger.warning(
                "thread %s was taken over by another process; stopped driving it",
                thread_id,
                extra={"thread_id": thread_id, "lease": lease},
            )
            raise
        finally:
            self.ctx.leases.release(thread_id, lease)
            self.ctx.forget_attempts(thread_id)
        if not describe and outcome is not None:
            # the caller only needs the outcome (e.g. a fleet worker): skip the status reads
            return ThreadStatus(thread_id=thread_id, status=outcome, owner=self.ctx.owner)
        return await self.status(thread_id)

    async def _drive_claimed(
        self,
        thread_id: str,
        previous: RunRecord,
        graph_input: Any,
        event_kind: str,
        on_step: ProgressCallback | None,
        *,
        patches: dict[str, dict[str, Any]] | None,
        data: dict[str, Any] | None,
    ) -> ThreadState | None:
        """Run the claimed thread; return the status it ended in, None if not plain to tell
        (dead-lettered, compensated, failed: read it back with :meth:`status`)."""
        data = {"graph": self.graph_name, **(data or {})}
        events = [NewEvent(thread_id, event_kind, owner=self.ctx.owner, data=data)]
        if event_kind == "run_started":
            self.ctx.remember_attempts(thread_id, {})  # a new thread: no earlier attempts
        else:
            self.ctx.forget_attempts(thread_id)
        if previous.status == "running" and event_kind == "run_resumed":
            data["recovered_from"] = previous.owner
            data["recoveries"] = await self.ctx.runs.increment_recoveries(thread_id)
            snapshot = await self.graph.aget_state(self.config(thread_id))
            earlier = await self.ctx.events.attempts(thread_id)
            events += interrupted_tasks(
                snapshot, earlier, thread_id, self.ctx.owner, previous.owner
            )
        await self.ctx.events.append_many(events)
        return await self._run_claimed(thread_id, graph_input, on_step, patches=patches)

    async def _run_claimed(
        self,
        thread_id: str,
        graph_input: Any,
        on_step: ProgressCallback | None,
        *,
        patches: dict[str, dict[str, Any]] | None,
    ) -> ThreadState | None:
        """Stream the claimed thread (its start recorded) and record how the run ended."""
        config = self.config(thread_id)
        if self.ctx.failpoints.watches("llm:"):
            config["callbacks"] = [LlmFailpoints(self.ctx.failpoints)]
        if patches:
            config["configurable"][PATCH_KEY] = patches
        interrupted = False
        try:
            try:
                async with run_heartbeat(self.ctx, thread_id, self.heartbeat_seconds):
                    async for chunk in self.graph.astream(
                        graph_input, config, stream_mode="updates", durability="sync"
                    ):
                        interrupted = interrupted or INTERRUPT_KEY in chunk
                        if on_step is not None:
                            for node in chunk:
                                on_step(thread_id, node)
            finally:
                # a superstep that ended without a checkpoint (a failure) may leave its
                # finished tasks' writes held by the saver: save them before reading state
                if isinstance(self.graph.checkpointer, HookedAsyncPostgresSaver):
                    await self.graph.checkpointer.aflush(thread_id)
        except LeaseLost:
            raise
        except StopRequested:
            await self._finish(thread_id, "incomplete", "run_stopped")
            return "incomplete"
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
            # no exception and no interrupt streamed: nothing is left to run (see
            # streams_every_interrupt), no need to read the state back
            if self._streams_interrupts and not interrupted:
                await self._finish(thread_id, "completed", "run_completed")
                return "completed"
            snapshot = await self.graph.aget_state(self.config(thread_id))
            if not snapshot.next and not snapshot.tasks:
                await self._finish(thread_id, "completed", "run_completed")
                return "completed"
            if any(task.interrupts for task in snapshot.tasks):
                await self._finish(thread_id, "waiting_for_human", "run_paused")
                return "waiting_for_human"
            await self._finish(thread_id, "incomplete", "run_stopped")
            return "incomplete"
        return None

    async def _finish(
        self, thread_id: str, status: str, event: str, error: dict[str, Any] | None = None
    ) -> None:
        await self.ctx.runs.finish(
            NewEvent(thread_id, event, owner=self.ctx.owner, data=error),
            status,
            error=error,
            owner=self.ctx.owner,
            lease=self.ctx.leases.of(thread_id),
        )

    async def dead_letter(self, thread_id: str, report: FailureReport) -> None:
        """Put a thread in the dead-letter queue (and compensate its side effects).

        For failures found outside a node, e.g. a worker fleet that sees a thread crash its
        workers again and again.
        """
        await self._dead_letter(thread_id, report)

    async def _dead_letter(self, thread_id: str, report: FailureReport) -> None:
        if report.task_id is not None:
            # effects the failed node performed are recorded, so that they are compensated
            await self.ctx.commit_task_writes(thread_id, report.task_id)
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
