"""The checkpointer ``langgraph dev`` uses: our durable saver over our Postgres.

``langgraph.json`` names :func:`factory`; the server enters it once per event loop and keeps the
saver for its lifetime, so Studio's checkpoints land in the same database as the CLI's (the
embedded server unless ``DATABASE_URL`` is set) and wrapped nodes log their events there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from pydantic import SecretStr

from agent_graph._settings import Settings
from agent_graph.content import ContentServices, LlmSettings, build_content_graph
from agent_graph.examples import build_greeting_graph
from agent_graph.runtime import DurableContext, DurableSaver, Failpoints
from agent_graph.runtime._allowlist import model_types
from checkpointers import open_async_pool, redact_dsn, resolve_dsn, setup_database

logger = logging.getLogger(__name__)

_NOWHERE = "http://127.0.0.1:9"


def studio_model_types() -> set[tuple[str, ...]]:
    """``(module, name)`` of every pydantic model the served graphs keep in their state.

    The saver is strict about what it revives from a checkpoint; in ``langgraph dev`` it is
    given apart from the graphs, so it is told about both graphs' state models up front.
    """
    # Only the schemas matter here: the endpoints are never called.
    services = ContentServices(LlmSettings("unused", _NOWHERE, SecretStr("unused")), _NOWHERE)
    return model_types(build_content_graph(services)) | model_types(build_greeting_graph())


@contextlib.asynccontextmanager
async def factory() -> AsyncIterator[DurableSaver]:
    """Open the pool, set up the schema and yield a :class:`DurableSaver` for the server.

    Raises:
        DatabaseUnavailable: the database does not answer.
        ConfigurationError: a setting is malformed.
    """
    settings = Settings()
    dsn = await asyncio.to_thread(resolve_dsn, settings.database_url, data_dir=settings.data_dir)
    async with open_async_pool(dsn, max_size=settings.pool_size) as pool:
        await setup_database(pool)
        context = DurableContext(pool=pool, failpoints=Failpoints.parse(settings.failpoints))
        saver = DurableSaver(pool, context).with_allowlist(studio_model_types())
        logger.info("studio checkpointer ready", extra={"database": redact_dsn(dsn)})
        assert isinstance(saver, DurableSaver)
        yield saver
