"""The durable saver: LangGraph's Postgres saver carrying the durable context."""

from __future__ import annotations

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

from checkpointers import AsyncPool, HookedAsyncPostgresSaver

from ._context import DurableContext


class DurableSaver(HookedAsyncPostgresSaver):
    """An ``AsyncPostgresSaver`` that also carries the :class:`DurableContext`.

    Wrapped nodes find the context through the checkpointer LangGraph hands them, and the
    ``checkpoint:put`` / ``checkpoint:put_writes`` failpoints fire just before each commit.

    Args:
        pool: the connection pool (autocommit, dict rows) the checkpoints are written through.
        durable: the context of this process.
        hold_writes: seconds a finished task's writes may wait for the next checkpoint, to
            commit both in one transaction (one commit per step); None writes them at once.
    """

    def __init__(
        self, pool: AsyncPool, durable: DurableContext, *, hold_writes: float | None = 0.05
    ) -> None:
        # Strict msgpack: only the types of the compiled graph's schemas (which LangGraph adds
        # at compile time) are revived from a checkpoint, nothing else.
        serde = JsonPlusSerializer(allowed_msgpack_modules=None)
        super().__init__(
            pool,
            before_commit=self._before_commit,
            serde=serde,
            extras_for_task=durable.take_task_writes,
            leases=durable.leases,
            hold_writes=hold_writes,
            # checkpoints share transactions with the context's claims, answers and run ends
            committer=durable.committer,
        )
        self.durable = durable

    def _before_commit(self, operation: str, config: RunnableConfig) -> None:
        self.durable.failpoints.hit(f"checkpoint:{operation}")

    def __repr__(self) -> str:
        return f"DurableSaver(owner={self.durable.owner!r})"
