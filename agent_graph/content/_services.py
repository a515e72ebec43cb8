"""The outside world of the content agent: the LLM, search, web pages, the CMS and notifications."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, SecretStr

from .._errors import ConfigurationError
from ..llm import JournaledChatOpenAI, PriceTable
from ._state import Page, Source

M = TypeVar("M", bound=BaseModel)

_TAG = re.compile(r"<[^>]+>")
_SCRIPT = re.compile(r"<(script|style)\b.*?</\1>", re.S | re.I)
_TITLE = re.compile(r"<title>(.*?)</title>", re.S | re.I)


@dataclass(frozen=True)
class LlmSettings:
    """How to reach the chat model.

    Args:
        model: model name sent to the provider.
        base_url: OpenAI-compatible endpoint (``None``: OpenAI itself).
        api_key: the key; never written to state, events or logs.
        timeout: seconds before a request is abandoned (the retry policy then decides).
        prices: dollars per million tokens per model, for cost accounting and budgets.
    """

    model: str
    base_url: str | None
    api_key: SecretStr
    timeout: float = 60.0
    prices: PriceTable = field(default_factory=PriceTable.standard)


@dataclass(frozen=True)
class ContentServices:
    """Endpoints the content agent talks to.

    Args:
        llm: chat model settings.
        services_url: base URL of the search API, web pages, CMS and notification webhook
            (the offline provider by default).
        http_timeout: seconds before a search, scrape or CMS request is abandoned.
    """

    llm: LlmSettings
    services_url: str
    http_timeout: float = 20.0

    def __post_init__(self) -> None:
        if not self.services_url.startswith(("http://", "https://")):
            raise ConfigurationError(
                f"services URL {self.services_url!r} is not an http(s) URL",
                hint="set AGENT_GRAPH_SERVICES_URL to e.g. http://127.0.0.1:8000",
            )

    def chat_model(self) -> ChatOpenAI:
        """A ``ChatOpenAI`` client with the SDK's own retries off (our policies retry).

        It is a :class:`~agent_graph.llm.JournaledChatOpenAI`: inside durable nodes its answers
        are journaled, priced and checked against the thread's budget.
        """
        return JournaledChatOpenAI(
            model=self.llm.model,
            base_url=self.llm.base_url,
            api_key=self.llm.api_key,
            max_retries=0,
            timeout=self.llm.timeout,
            prices=self.llm.prices,
        )

    async def ask(self, system: str, prompt: str, config: RunnableConfig) -> str:
        """Ask the model for plain text."""
        messages = [SystemMessage(system), HumanMessage(prompt)]
        reply = await self.chat_model().ainvoke(messages, config)
        content: Any = reply.content
        return content if isinstance(content, str) else str(content)

    async def ask_structured(
        self, schema: type[M], system: str, prompt: str, config: RunnableConfig
    ) -> M:
        """Ask the model for an answer validated against ``schema`` (JSON-schema mode)."""
        model = self.chat_model().with_structured_output(schema, method="json_schema")
        reply = await model.ainvoke([SystemMessage(system), HumanMessage(prompt)], config)
        if not isinstance(reply, schema):
            return schema.model_validate(reply)
        return reply

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.services_url, timeout=self.http_timeout)

    async def search(self, query: str, limit: int = 3) -> list[Source]:
        """Run one web search."""
        async with self._client() as client:
            response = await client.get("/search", params={"q": query, "n": limit})
            response.raise_for_status()
            return [Source.model_validate(item) for item in response.json()["results"]]

    async def fetch_page(self, source: Source) -> Page:
        """Download a page and reduce it to text."""
        async with self._client() as client:
            response = await client.get(source.url)
            response.raise_for_status()
        body = response.text
        title_match = _TITLE.search(body)
        title = html.unescape(title_match.group(1)).strip() if title_match else source.title
        text = html.unescape(_TAG.sub(" ", _SCRIPT.sub(" ", body)))
        return Page(url=source.url, title=title, text=" ".join(text.split())[:4000])

    async def cms_post(self, path: str, payload: dict[str, Any], key: str) -> dict[str, Any]:
        """POST to the CMS or webhook with an ``Idempotency-Key`` header."""
        async with self._client() as client:
            response = await client.post(path, json=payload, headers={"Idempotency-Key": key})
            response.raise_for_status()
            result: dict[str, Any] = response.json()
            return result
