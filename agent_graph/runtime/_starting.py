"""Starting threads: a brand-new one in one statement, any other after the general checks."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from checkpointers import HookedAsyncPostgresSaver, NewEvent

from .._errors import ThreadUnfinished
from ._inspection import thread_config
from ._records import ThreadState, ThreadStatus, check_thread_id
from ._runner_base import ProgressCallback, RunnerBase


class ThreadStarts(RunnerBase):
    """Runner methods that start threads (mixed into :class:`Runner`)."""

    async def start(
        self,
        thread_id: str,
        graph_input: Any,
        *,
        on_step: ProgressCallback | None = None,
        describe: bool = True,
        try_new: bool = True,
    ) -> ThreadStatus:
        """Start a new thread with ``graph_input`` and run it to the end.

        A thread that already completed is not run again: its status is returned. A thread that
        exists and is unfinished is refused, since new input would discard its pending work.

        Args:
            thread_id: the thread.
            graph_input: the graph's input (a dict or a pydantic model).
            on_step: called with the thread ID and node name after each node.
            describe: False to get only the outcome (``status``, ``owner``) of a run that
                stopped plainly, without reading the thread back (four queries fewer: what a
                fleet worker, which only needs the outcome, saves per thread).
            try_new: False when :meth:`start_new` just told that the thread exists (saves
                trying again).

        Raises:
            InvalidThreadId: malformed ID.
            ThreadUnfinished: the thread has pending work; resume it instead.
            ThreadBusy: another live process runs the thread.
        """
        check_thread_id(thread_id)
        if try_new:
            started = await self.start_new(
                thread_id, graph_input, on_step=on_step, describe=describe
            )
            if started is not None:
                return started
        snapshot = await self.graph.aget_state(thread_config(thread_id))
        if snapshot.created_at is not None:
            if not snapshot.next and not snapshot.tasks:
                return await self.status(thread_id)
            raise ThreadUnfinished(thread_id, tuple(snapshot.next))
        payload = graph_input.model_dump() if isinstance(graph_input, BaseModel) else graph_input
        run = await self.ctx.runs.create(thread_id, self.graph_name, payload)
        return await self._drive(
            thread_id, payload, "run_started", on_step, describe=describe, run=run
        )

    async def start_new(
        self,
        thread_id: str,
        graph_input: Any,
        *,
        on_step: ProgressCallback | None = None,
        describe: bool = True,
    ) -> ThreadStatus | None:
        """Start ``thread_id`` and run it to the end if it is brand new (no run, no checkpoint).

        The run is registered, claimed by this process and its start recorded in one statement:
        one round trip and one commit, where a thread that exists takes four round trips (read
        its state, create or read its run, claim it, record the start).

        Args:
            thread_id: the thread.
            graph_input: the graph's input (a dict or a pydantic model).
            on_step: see :meth:`start`.
            describe: see :meth:`start`.

        Returns:
            The thread's status, or None if the thread exists: nothing was done, and
            :meth:`start` or :meth:`resume` decide what to do with it.

        Raises:
            InvalidThreadId: malformed ID.
            LeaseLost: another process claimed the thread while this one drove it.
        """
        check_thread_id(thread_id)
        payload = graph_input.model_dump() if isinstance(graph_input, BaseModel) else graph_input
        data = {"graph": self.graph_name}
        event = NewEvent(thread_id, "run_started", owner=self.ctx.owner, data=data)
        run = await self.ctx.runs.start_new(
            thread_id, self.graph_name, payload, owner=self.ctx.owner, event=event
        )
        if run is None:
            return None
        saver = self.graph.checkpointer
        if isinstance(saver, HookedAsyncPostgresSaver):
            saver.known_new(thread_id)  # LangGraph need not read it as the run begins

        async def drive() -> ThreadState | None:
            self.ctx.remember_attempts(thread_id, {})  # a new thread: no earlier attempts
            try:
                return await self._run_claimed(thread_id, payload, on_step, patches=None)
            finally:
                if isinstance(saver, HookedAsyncPostgresSaver):
                    saver.forget_new(thread_id)

        return await self._drive_held(thread_id, run.lease, drive, describe=describe)
