"""Factories at the edge: settings in, a ready runtime or content agent out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from langgraph.graph import StateGraph
from pydantic import SecretStr, ValidationError

from checkpointers import AsyncPool, open_async_pool, resolve_dsn, setup_database
from policies import Budget, Classifier, Policies

from ._errors import InvalidInput
from ._settings import Settings
from .content import (
    GRAPH_NAME,
    NODE_KINDS,
    ArticleRequest,
    ContentServices,
    LlmSettings,
    build_content_graph,
    slugify,
)
from .llm import PriceTable
from .runtime import (
    DurableContext,
    DurableSaver,
    Failpoints,
    NodeExecution,
    Runner,
    ThreadStatus,
    check_thread_id,
    make_durable,
    validate_input_first,
)
from .runtime._allowlist import model_types

logger = logging.getLogger(__name__)


@dataclass
class Runtime:
    """A connected durable store: pool, context and saver of one process."""

    pool: AsyncPool
    context: DurableContext
    saver: DurableSaver
    dsn: str

    def runner(
        self, builder: StateGraph[Any, Any, Any, Any], *, name: str, heartbeat_seconds: float = 5.0
    ) -> Runner:
        """Wrap ``builder`` with :func:`make_durable`, compile it on this store, return a runner."""
        saver = self.saver.with_allowlist(model_types(builder))
        # a malformed input is refused before the run saves anything (Studio does the same)
        graph = validate_input_first(make_durable(builder).compile(checkpointer=saver, name=name))
        return Runner(graph, self.context, graph_name=name, heartbeat_seconds=heartbeat_seconds)


@contextlib.asynccontextmanager
async def open_runtime(
    settings: Settings | None = None,
    *,
    policies: Policies | None = None,
    classifier: Classifier | None = None,
) -> AsyncIterator[Runtime]:
    """Connect to Postgres (embedded unless ``DATABASE_URL`` is set) and prepare the schema.

    Args:
        settings: configuration; read from the environment when omitted.
        policies: retry policies per operation kind and node (defaults otherwise).
        classifier: failure classifier, e.g. with rules for your own exception types.

    Raises:
        DatabaseUnavailable: the server does not answer.
        ConfigurationError: a setting is malformed.
    """
    settings = settings or Settings()
    dsn = await asyncio.to_thread(resolve_dsn, settings.database_url, data_dir=settings.data_dir)
    async with open_async_pool(dsn, max_size=settings.pool_size) as pool:
        await setup_database(pool)
        context = DurableContext(
            pool=pool,
            failpoints=Failpoints.parse(settings.failpoints),
            policies=policies or Policies.default(),
            classifier=classifier or Classifier.default(),
            budget=Budget(max_recoveries=settings.max_recoveries),
        )
        yield Runtime(pool=pool, context=context, saver=DurableSaver(pool, context), dsn=dsn)


def thread_id_for(keyword: str) -> str:
    """The default thread ID of a keyword: its slug, e.g. ``solar-panels``."""
    return slugify(keyword)


def article_request(keyword: str) -> ArticleRequest:
    """Validate a keyword.

    Raises:
        InvalidInput: the keyword is empty or too long.
    """
    try:
        return ArticleRequest(keyword=keyword)
    except ValidationError as exc:
        problem = exc.errors()[0]["msg"]
        raise InvalidInput(
            f"invalid keyword {keyword!r}: {problem}", hint="give a non-empty keyword"
        ) from None


class ContentAgent:
    """The content agent on a durable runtime: run, resume and inspect threads by ID.

    Args:
        runner: the runner of the compiled content graph.
        provider_url: base URL of the offline provider in use, if one was started.
    """

    def __init__(self, runner: Runner, *, provider_url: str | None = None) -> None:
        self.runner = runner
        self.provider_url = provider_url

    async def run(
        self,
        keywords: Sequence[str],
        *,
        thread_ids: Sequence[str] | None = None,
        concurrency: int = 16,
        on_step: Any = None,
    ) -> list[ThreadStatus]:
        """Run one thread per keyword, ``concurrency`` at a time, to the end.

        Raises:
            InvalidInput, InvalidThreadId: before anything runs, for any bad keyword or ID.
        """
        requests = [article_request(k) for k in keywords]
        ids = list(thread_ids) if thread_ids else [thread_id_for(r.keyword) for r in requests]
        if len(ids) != len(requests):
            raise InvalidInput(
                "one thread ID is needed per keyword", hint="give as many IDs as keywords"
            )
        for thread_id in ids:
            check_thread_id(thread_id)
        gate = asyncio.Semaphore(concurrency)

        async def one(thread_id: str, request: ArticleRequest) -> ThreadStatus:
            async with gate:
                return await self.runner.start(thread_id, request, on_step=on_step)

        return list(await asyncio.gather(*(one(t, r) for t, r in zip(ids, requests, strict=True))))

    async def resume(self, thread_id: str, *, on_step: Any = None) -> ThreadStatus:
        """Continue a thread from its last checkpoint."""
        return await self.runner.resume(thread_id, on_step=on_step)

    async def status(self, thread_id: str) -> ThreadStatus:
        """Describe a thread."""
        return await self.runner.status(thread_id)

    async def history(self, thread_id: str) -> list[NodeExecution]:
        """Node executions of a thread, in order."""
        return await self.runner.history(thread_id)


@contextlib.contextmanager
def _endpoints(
    settings: Settings, start_provider: bool
) -> Iterator[tuple[LlmSettings, str, str | None]]:
    """LLM settings and services URL; starts the offline provider when something is missing."""
    need_provider = settings.openai_api_key is None or settings.services_url is None
    if need_provider and not start_provider:
        idle = "http://127.0.0.1:9"
        yield (
            LlmSettings(
                settings.model, idle, SecretStr("unused"), settings.llm_timeout, _prices(settings)
            ),
            idle,
            None,
        )
        return
    if not need_provider:
        assert settings.openai_api_key is not None
        assert settings.services_url is not None
        llm = LlmSettings(
            settings.model,
            settings.openai_base_url,
            settings.openai_api_key,
            settings.llm_timeout,
            _prices(settings),
        )
        yield llm, settings.services_url, None
        return
    from .provider import BackgroundProvider

    with BackgroundProvider(
        latency=settings.provider_latency, faults=settings.provider_faults or None
    ) as provider:
        base = provider.base_url
        logger.info("offline provider started at %s", base, extra={"provider_url": base})
        if settings.openai_api_key is None:
            llm = LlmSettings(
                settings.model,
                f"{base}/v1",
                SecretStr("offline"),
                settings.llm_timeout,
                _prices(settings),
            )
        else:
            llm = LlmSettings(
                settings.model,
                settings.openai_base_url,
                settings.openai_api_key,
                settings.llm_timeout,
                _prices(settings),
            )
        yield llm, settings.services_url or base, base


@contextlib.asynccontextmanager
async def open_content_agent(
    settings: Settings | None = None, *, start_provider: bool = True
) -> AsyncIterator[ContentAgent]:
    """Open the content agent on the durable runtime.

    Args:
        settings: configuration; read from the environment when omitted.
        start_provider: with no ``OPENAI_API_KEY`` (or no ``AGENT_GRAPH_SERVICES_URL``), start
            the offline provider in the background for the duration of the block. Pass False
            to only inspect threads (status, history) without any endpoint.
    """
    settings = settings or Settings()
    async with open_runtime(settings) as runtime:
        with _endpoints(settings, start_provider) as (llm, services_url, provider_url):
            services = ContentServices(llm, services_url, settings.http_timeout)
            builder = make_durable(build_content_graph(services), kinds=NODE_KINDS)
            runner = runtime.runner(
                builder, name=GRAPH_NAME, heartbeat_seconds=settings.heartbeat_seconds
            )
            runner.result_of = _article_of
            yield ContentAgent(runner, provider_url=provider_url)


def _article_of(values: Any) -> Any:
    article = values.get("article") if hasattr(values, "get") else None
    if article is None:
        return None
    return article.model_dump(mode="json") if hasattr(article, "model_dump") else article


def _prices(settings: Settings) -> PriceTable:
    """The standard price table with the settings' overrides."""
    return PriceTable.parse(settings.llm_prices)
