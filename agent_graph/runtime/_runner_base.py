"""What the Runner's mixins may rely on: its state and the driving methods it implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import Any

from langgraph.graph.state import CompiledStateGraph

from checkpointers import DeadLetterStore, RunRecord

from ._context import DurableContext
from ._records import ThreadState, ThreadStatus

#: Called with the thread ID and the node name after each node.
ProgressCallback = Callable[[str, str], None]


class RunnerBase(ABC):
    """The part of :class:`~agent_graph.runtime.Runner` its mixins (starting threads, human
    operations) build on: declared once here, implemented by the Runner."""

    graph: CompiledStateGraph[Any, Any, Any, Any]
    ctx: DurableContext
    graph_name: str
    dead_letters: DeadLetterStore

    @abstractmethod
    async def status(self, thread_id: str) -> ThreadStatus:
        """Describe a thread."""

    @abstractmethod
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
        """Claim the thread, record ``event_kind`` and run it from ``graph_input``."""

    @abstractmethod
    async def _drive_held(
        self,
        thread_id: str,
        lease: int,
        drive: Callable[[], Awaitable[ThreadState | None]],
        *,
        describe: bool,
    ) -> ThreadStatus:
        """Run ``drive`` with the thread's writes fenced by ``lease``."""

    @abstractmethod
    async def _run_claimed(
        self,
        thread_id: str,
        graph_input: Any,
        on_step: ProgressCallback | None,
        *,
        patches: dict[str, dict[str, Any]] | None,
    ) -> ThreadState | None:
        """Stream the claimed thread and record how the run ended."""
