"""Fencing tokens: which claim of a thread this process holds, and the error when it is gone."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from checkpointers._errors import LeaseLost

__all__ = ["LEASE_LOST_SQLSTATE", "Leases", "lease_errors"]

#: Raised by ``agent_graph_fence`` (migration 0006) when a lease is not the run's any more.
LEASE_LOST_SQLSTATE = "DAG01"


class Leases:
    """The leases (fencing tokens) of the threads this process drives, by thread ID.

    A driver holds a thread's lease from its claim (:meth:`RunRegistry.claim`) until it stops
    driving it; the stores given this object send the lease with every write for the thread,
    and the database refuses the write once another claim has taken the thread over.
    A thread with no lease here is written unfenced (an operator's command, Studio).
    """

    def __init__(self) -> None:
        self._tokens: dict[str, int] = {}

    def hold(self, thread_id: str, lease: int) -> None:
        """Fence the writes for ``thread_id`` with ``lease`` from now on."""
        self._tokens[thread_id] = lease

    def release(self, thread_id: str, lease: int) -> None:
        """Stop fencing ``thread_id`` if ``lease`` is still the one held (a newer claim stays)."""
        if self._tokens.get(thread_id) == lease:
            del self._tokens[thread_id]

    def of(self, thread_id: str) -> int | None:
        """The lease held for ``thread_id``, or None when its writes are not fenced."""
        return self._tokens.get(thread_id)

    def __len__(self) -> int:
        return len(self._tokens)


@contextmanager
def lease_errors() -> Iterator[None]:
    """Turn the database's fencing refusal (SQLSTATE ``DAG01``) into :class:`LeaseLost`."""
    try:
        yield
    except psycopg.Error as exc:
        if exc.sqlstate != LEASE_LOST_SQLSTATE:
            raise
        raise LeaseLost(exc.diag.message_primary or str(exc)) from None
