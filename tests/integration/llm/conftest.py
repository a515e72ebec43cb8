"""Fixtures for the LLM journal tests: one offline provider per module, counters reset per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from agent_graph.llm import JournaledChatOpenAI
from agent_graph.provider import BackgroundProvider

API_KEY = "sk-journal-test-key-0123456789abcdef"


@pytest.fixture(scope="module")
def shared_provider() -> Iterator[BackgroundProvider]:
    with BackgroundProvider() as running:
        yield running


@pytest.fixture
def provider(shared_provider: BackgroundProvider) -> BackgroundProvider:
    shared_provider.reset()
    shared_provider.set_faults("")
    return shared_provider


@pytest.fixture
async def http_client() -> AsyncIterator[httpx.AsyncClient]:
    # One client per test: the default client langchain caches is bound to the first event loop.
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def api_key() -> str:
    """The key the ``llm`` fixture sends (the offline provider accepts any)."""
    return API_KEY


@pytest.fixture
def llm(
    provider: BackgroundProvider, http_client: httpx.AsyncClient, api_key: str
) -> JournaledChatOpenAI:
    return JournaledChatOpenAI(
        model="gpt-4o-mini",
        base_url=provider.openai_base_url,
        api_key=api_key,  # type: ignore[arg-type]
        max_retries=0,
        http_async_client=http_client,
    )
