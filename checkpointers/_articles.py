"""Published articles (``agent_graph_articles``), the content agent's final output."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from checkpointers._models import ArticleRecord, jsonb
from checkpointers._pool import AsyncPool
from checkpointers._queries import QUERIES

__all__ = ["ArticleStore"]


class ArticleStore:
    """Store articles by slug; writing the same slug again replaces it (idempotent publish).

    Args:
        pool: a pool from :func:`open_async_pool` over a database set up with
            :func:`setup_database`.
    """

    def __init__(self, pool: AsyncPool) -> None:
        self._pool = pool

    async def upsert(
        self,
        slug: str,
        thread_id: str,
        keyword: str,
        title: str,
        markdown: str,
        meta: Mapping[str, Any] | None = None,
    ) -> ArticleRecord:
        """Insert the article, or update every field of the one with this ``slug``.

        Returns:
            The stored article (``created_at`` is that of the first insert).
        """
        params = {
            "slug": slug,
            "thread_id": thread_id,
            "keyword": keyword,
            "title": title,
            "markdown": markdown,
            "meta": jsonb(dict(meta) if meta is not None else {}),
        }
        async with self._pool.connection() as conn:
            cursor = await conn.execute(QUERIES.upsert_article, params)
            row = await cursor.fetchone()
        assert row is not None
        return ArticleRecord.from_row(row)

    async def get(self, slug: str) -> ArticleRecord | None:
        """The article with ``slug``, or None."""
        async with self._pool.connection() as conn:
            cursor = await conn.execute(QUERIES.get_article, {"slug": slug})
            row = await cursor.fetchone()
        return None if row is None else ArticleRecord.from_row(row)

    async def count(self) -> int:
        """How many articles are stored."""
        async with self._pool.connection() as conn:
            cursor = await conn.execute(QUERIES.count_articles)
            row = await cursor.fetchone()
        assert row is not None
        return int(row["n"])
