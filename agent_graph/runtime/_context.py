"""The durable context: what a wrapped node needs from the outside world, found via its config.

The context rides on the checkpointer (our saver carries it), so a graph compiled with a durable
saver gets event logging, failpoints and stop requests wherever it runs: in the runner, a worker or
`langgraph dev`.
"""

from __future__ import annotations

import contextvars
import os
import socket
import threading
from dataclasses import dataclass, field
from typing import Any

from langchain_core.runnables import RunnableConfig

from checkpointers import (
    AsyncPool,
    AttemptHistory,
    EffectLedger,
    EventLog,
    GroupCommitter,
    HeldWrites,
    Leases,
    LlmJournal,
    NewEvent,
    RunRegistry,
    commit_held,
)
from policies import Budget, Classifier, Policies

from ._failpoints import Failpoints

_CHECKPOINTER_KEY = "__pregel_checkpointer"
NO_ATTEMPTS = AttemptHistory()


def process_owner() -> str:
    """Identify this process as ``host:pid`` (what the run registry records as a thread's owner)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_is_alive(owner: str | None) -> bool | None:
    """Tell whether the process named by ``owner`` still runs.

    Returns None when it cannot be known from here (another host): use the heartbeat then.
    """
    if not owner:
        return False
    host, _, pid_text = owner.rpartition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return None
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class DurableContext:
    """Resources and switches shared by every durable node of one process.

    Args:
        pool: the connection pool of the durable store.
        owner: this process, as :func:`process_owner` names it.
        failpoints: chaos-testing rules (none by default).
        policies: retry policies per operation kind and node.
        classifier: decides whether a node's exception is retryable, fatal or to escalate.
        budget: limits across restarts (``max_recoveries``: crashes of one node task before
            its thread is dead-lettered).
    """

    pool: AsyncPool
    owner: str = field(default_factory=process_owner)
    failpoints: Failpoints = field(default_factory=Failpoints)
    policies: Policies = field(default_factory=Policies.default)
    classifier: Classifier = field(default_factory=Classifier.default)
    budget: Budget = field(default_factory=Budget)
    #: commits the writes of concurrent threads in shared transactions
    committer: GroupCommitter = field(init=False, repr=False)
    events: EventLog = field(init=False)
    runs: RunRegistry = field(init=False)
    ledger: EffectLedger = field(init=False)
    journal: LlmJournal = field(init=False)
    #: the fencing tokens of the threads this process drives (see :class:`Leases`)
    leases: Leases = field(default_factory=Leases)
    #: estimated cost of the LLM calls in flight per thread (parallel tasks of one thread see
    #: each other's pending calls when they check the thread's budget)
    llm_in_flight: dict[str, float] = field(default_factory=dict, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _deferred: dict[str, HeldWrites] = field(default_factory=dict, repr=False)
    _effects: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)
    _attempts: dict[str, dict[str, AttemptHistory]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        # claims, LLM answers and run ends of concurrent threads share commits
        self.committer = GroupCommitter(self.pool)
        self.events = EventLog(self.pool, self.leases)
        self.runs = RunRegistry(self.pool, self.committer)
        self.ledger = EffectLedger(self.pool, self.leases, self.committer)
        self.journal = LlmJournal(self.pool, self.leases, self.committer)

    def defer_event(self, task_id: str, event: NewEvent) -> None:
        """Hold ``event`` until the task's writes are saved, then commit it with them."""
        self._deferred.setdefault(task_id, HeldWrites()).events.append(event)

    def defer_effect(
        self,
        task_id: str,
        key: str,
        result: Any,
        compensation: dict[str, Any] | None,
        event: NewEvent,
    ) -> None:
        """Hold the record of a performed effect (and its event) until the task's writes are
        saved, then commit it with them; until then :meth:`deferred_effect` knows it."""
        held = self._deferred.setdefault(task_id, HeldWrites())
        held.rows.append(EffectLedger.record_rows(key, result, compensation))
        held.events.append(event)
        self._effects.setdefault(task_id, {})[key] = result

    def deferred_effect(self, task_id: str, key: str) -> tuple[bool, Any]:
        """(True, result) if this task performed the effect ``key`` and its record is held."""
        performed = self._effects.get(task_id, {})
        return (key in performed, performed.get(key))

    def take_task_writes(self, task_id: str) -> HeldWrites:
        """What is held for ``task_id`` (the saver commits it with the task's writes)."""
        self._effects.pop(task_id, None)
        return self._deferred.pop(task_id, None) or HeldWrites()

    async def commit_task_writes(self, thread_id: str, task_id: str) -> None:
        """Commit now what is held for a task that will not save writes (dead-lettered).

        Raises:
            LeaseLost: the thread was taken over (nothing is written).
        """
        lease = self.leases.of(thread_id)
        fence = None if lease is None else (thread_id, lease)
        await commit_held(self.pool, fence, self.take_task_writes(task_id))

    async def earlier_attempts(self, thread_id: str, task_id: str | None) -> AttemptHistory:
        """What earlier attempts of a node task left behind (read once per thread and run)."""
        known = self._attempts.get(thread_id)
        if known is None:
            known = self._attempts[thread_id] = await self.events.attempts(thread_id)
        return known.get(task_id or "", NO_ATTEMPTS)

    def remember_attempts(self, thread_id: str, history: dict[str, AttemptHistory]) -> None:
        """Set what :meth:`earlier_attempts` returns for a thread (``{}``: a new thread)."""
        self._attempts[thread_id] = history

    def forget_attempts(self, thread_id: str) -> None:
        """Drop the cached attempt history of a thread (read again on next use)."""
        self._attempts.pop(thread_id, None)

    def request_stop(self) -> None:
        """Ask every durable node of this process to stop at its next node boundary."""
        self._stop.set()

    @property
    def stop_requested(self) -> bool:
        """Whether :meth:`request_stop` was called."""
        return self._stop.is_set()


def durable_context(config: RunnableConfig | None) -> DurableContext | None:
    """Return the durable context of the checkpointer running this node, if it has one."""
    if not config:
        return None
    saver: Any = config.get("configurable", {}).get(_CHECKPOINTER_KEY)
    ctx = getattr(saver, "durable", None)
    return ctx if isinstance(ctx, DurableContext) else None


@dataclass(frozen=True)
class NodeRun:
    """Identity of one node execution, read from LangGraph's task config."""

    thread_id: str
    node: str
    task_id: str | None
    step: int | None

    @classmethod
    def from_config(cls, node: str, config: RunnableConfig) -> NodeRun:
        """Build from the config LangGraph passes to a node."""
        configurable = config.get("configurable", {})
        metadata = config.get("metadata", {})
        namespace = str(metadata.get("langgraph_checkpoint_ns", ""))
        task_id = namespace.rpartition(":")[2] or None
        step = metadata.get("langgraph_step")
        return cls(
            thread_id=str(configurable.get("thread_id", "")),
            node=node,
            task_id=task_id,
            step=int(step) if isinstance(step, int) else None,
        )


@dataclass(frozen=True)
class NodeScope:
    """The node execution the current coroutine belongs to (set by the durable wrapper).

    Code running inside a durable node (an LLM client, a side-effect helper) reads it with
    :func:`current_scope` to find the thread, node, task, attempt and the durable context.
    """

    ctx: DurableContext
    run: NodeRun
    attempt: int
    #: identical LLM requests counted in this node execution (by request hash), so that the
    #: n-th identical call of a loop maps to the n-th journal entry
    llm_requests: dict[str, int] = field(default_factory=dict, compare=False, repr=False)


_SCOPE: contextvars.ContextVar[NodeScope | None] = contextvars.ContextVar(
    "agent_graph_node_scope", default=None
)


def current_scope() -> NodeScope | None:
    """The :class:`NodeScope` of the durable node running this code, if any."""
    return _SCOPE.get()


def enter_scope(scope: NodeScope) -> contextvars.Token[NodeScope | None]:
    """Make ``scope`` current; give the token to :func:`exit_scope` afterwards."""
    return _SCOPE.set(scope)


def exit_scope(token: contextvars.Token[NodeScope | None]) -> None:
    """Restore the scope that was current before :func:`enter_scope`."""
    _SCOPE.reset(token)
