"""Enqueue threads for the fleet: one multi-row INSERT for any number of keywords."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from checkpointers import AsyncPool
from checkpointers._queries import QUERIES

from .._errors import InvalidInput
from .._factory import article_request, thread_id_for
from ..runtime import check_thread_id
from ._app import QUEUE, TASK_NAME

__all__ = ["Submitted", "submit_keywords"]


@dataclass(frozen=True)
class Submitted:
    """What :func:`submit_keywords` did.

    Attributes:
        queued: thread IDs that got a new job.
        already_queued: thread IDs that already had a job waiting (left as they were).
    """

    queued: tuple[str, ...]
    already_queued: tuple[str, ...]


async def submit_keywords(
    pool: AsyncPool, keywords: Sequence[str], *, thread_ids: Sequence[str] | None = None
) -> Submitted:
    """Queue one thread per keyword for the fleet and return at once.

    Keywords are validated first (nothing is queued if one is bad); a keyword given twice is
    queued once. Thread IDs default to the keyword's slug, as for ``agent-graph run``.

    Args:
        pool: an autocommit pool over a database set up by :func:`setup_fleet_database`.
        keywords: the keywords.
        thread_ids: one ID per keyword, to override the default.

    Raises:
        InvalidInput, InvalidThreadId: a keyword or ID is malformed.
    """
    requests = [article_request(k) for k in keywords]
    if thread_ids is not None and len(thread_ids) != len(requests):
        raise InvalidInput(
            "one thread ID is needed per keyword", hint="give as many IDs as keywords"
        )
    ids = (
        list(thread_ids) if thread_ids is not None else [thread_id_for(r.keyword) for r in requests]
    )
    chosen: dict[str, str] = {}
    for thread_id, request in zip(ids, requests, strict=True):
        chosen.setdefault(check_thread_id(thread_id), request.keyword)
    if not chosen:
        return Submitted((), ())
    params = {
        "queue": QUEUE,
        "task": TASK_NAME,
        "thread_ids": list(chosen),
        "keywords": list(chosen.values()),
    }
    async with pool.connection() as conn:
        cursor = await conn.execute(QUERIES.fleet_submit, params)
        inserted = {row["thread_id"] for row in await cursor.fetchall()}
    return Submitted(
        queued=tuple(t for t in chosen if t in inserted),
        already_queued=tuple(t for t in chosen if t not in inserted),
    )
