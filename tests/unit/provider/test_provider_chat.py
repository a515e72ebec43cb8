"""Chat completions through the real openai and ChatOpenAI clients."""

from __future__ import annotations

import enum
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, Field

from agent_graph.provider import fetch_stats

StartProvider = Callable[..., str]


class Tone(enum.StrEnum):
    formal = "formal"
    friendly = "friendly"


class Section(BaseModel):
    heading: str
    points: list[str] = Field(min_length=2, max_length=4)


class Outline(BaseModel):
    title: str
    slug: str
    tone: Tone
    sections: list[Section] = Field(min_length=3)
    reading_minutes: int = Field(ge=3, le=12)
    subtitle: str | None = None


def client(base: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base}/v1", api_key="offline", max_retries=0)


def chat_model(base: str, **kwargs: Any) -> ChatOpenAI:
    # Fresh HTTP clients: langchain caches its default async client per base URL, and that
    # client must not outlive the event loop of the test that created it.
    return ChatOpenAI(
        model="gpt-4o-mini",
        base_url=f"{base}/v1",
        api_key="offline",
        max_retries=0,
        http_client=httpx.Client(),
        http_async_client=httpx.AsyncClient(),
        **kwargs,
    )


def ask(base: str, prompt: str, **kwargs: Any) -> str:
    response = client(base).chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": prompt}],
        **kwargs,
    )
    return response.choices[0].message.content or ""


def test_plain_answer_talks_about_the_prompt_topic(offline: str) -> None:
    response = client(offline).chat.completions.create(
        model="gpt-4o-mini",
        messages=[
            {"role": "system", "content": "You are a helpful writer."},
            {"role": "user", "content": "Write a paragraph about solar panels for small homes."},
        ],
    )
    text = response.choices[0].message.content or ""
    assert "solar panels" in text
    assert 50 <= len(text.split()) <= 200
    assert response.choices[0].finish_reason == "stop"
    assert response.id.startswith("chatcmpl-")
    usage = response.usage
    assert usage is not None
    assert usage.prompt_tokens > 10
    assert usage.completion_tokens > 40
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_chat_openai_invoke_and_word_count_hint(offline: str) -> None:
    reply = chat_model(offline).invoke(
        [SystemMessage("Be concise."), HumanMessage("keyword: heat pumps. Write 300 words.")]
    )
    assert isinstance(reply.content, str)
    assert "heat pumps" in reply.content
    assert 250 <= len(reply.content.split()) <= 360
    assert reply.usage_metadata is not None
    assert reply.usage_metadata["output_tokens"] > 250


def test_same_request_gives_same_answer_whatever_the_order(start_offline: StartProvider) -> None:
    first = start_offline()
    a1 = ask(first, "Explain rainwater harvesting")
    b1 = ask(first, "Explain composting at home")
    assert ask(first, "Explain rainwater harvesting") == a1
    second = start_offline()
    b2 = ask(second, "Explain composting at home")
    a2 = ask(second, "Explain rainwater harvesting")
    assert (a2, b2) == (a1, b1)
    assert a1 != b1
    other_seed = start_offline(seed=7)
    assert ask(other_seed, "Explain rainwater harvesting") != a1


def test_response_id_and_created_are_stable(offline: str) -> None:
    def create() -> tuple[str, int]:
        response = client(offline).chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hello there"}]
        )
        return response.id, response.created

    assert create() == create()


@pytest.mark.parametrize("method", ["json_schema", "function_calling"])
def test_structured_output_round_trips_into_pydantic(offline: str, method: str) -> None:
    structured = chat_model(offline).with_structured_output(Outline, method=method)  # type: ignore[arg-type]
    outline = structured.invoke("Create an article outline for the keyword: solar panels")
    assert isinstance(outline, Outline)
    assert "Solar Panels" in outline.title
    assert outline.slug == "solar-panels"
    assert len(outline.sections) >= 3
    assert all(2 <= len(s.points) <= 4 for s in outline.sections)
    assert len({s.heading for s in outline.sections}) == len(outline.sections)
    assert 3 <= outline.reading_minutes <= 12
    assert structured.invoke("Create an article outline for the keyword: solar panels") == outline


async def test_structured_output_async(offline: str) -> None:
    structured = chat_model(offline).with_structured_output(Outline)
    outline = await structured.ainvoke("Outline for keyword: electric bikes")
    assert isinstance(outline, Outline)
    assert outline.slug == "electric-bikes"


def test_json_object_mode(offline: str) -> None:
    content = ask(
        offline, "Give me JSON about tiny houses", response_format={"type": "json_object"}
    )
    assert isinstance(json.loads(content), dict)


def test_forced_tool_call(offline: str) -> None:
    tool: Any = {
        "type": "function",
        "function": {
            "name": "record_queries",
            "parameters": {
                "type": "object",
                "properties": {"queries": {"type": "array", "items": {"type": "string"}}},
                "required": ["queries"],
            },
        },
    }
    response = client(offline).chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Plan searches for keyword: vertical gardens"}],
        tools=[tool],
        tool_choice={"type": "function", "function": {"name": "record_queries"}},
    )
    choice = response.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls is not None
    call = choice.message.tool_calls[0]
    assert call.type == "function"
    assert call.function.name == "record_queries"
    queries = json.loads(call.function.arguments)["queries"]
    assert len(queries) == 3
    assert all("vertical gardens" in q for q in queries)


def test_openai_stream_with_usage(offline: str) -> None:
    stream = client(offline).chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Tell me about keyword: sourdough bread"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == ask(offline, "Tell me about keyword: sourdough bread")
    assert len(chunks) > 5
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens > 0


async def test_chat_openai_astream_and_streaming_flag(offline: str) -> None:
    model = chat_model(offline, stream_usage=True)
    pieces = [chunk async for chunk in model.astream("keyword: bird feeders")]
    assert len(pieces) > 5
    total = pieces[0]
    for piece in pieces[1:]:
        total = total + piece
    assert "bird feeders" in str(total.content)
    assert total.usage_metadata is not None
    assert total.usage_metadata["output_tokens"] > 0
    streamed = await chat_model(offline, streaming=True).ainvoke("keyword: bird feeders")
    assert streamed.content == total.content


def test_streamed_structured_output_via_tools(offline: str) -> None:
    structured = chat_model(offline, streaming=True).with_structured_output(
        Outline, method="function_calling"
    )
    outline = structured.invoke("Outline for keyword: balcony solar")
    assert isinstance(outline, Outline)


def test_max_tokens_truncates_with_finish_reason_length(offline: str) -> None:
    response = client(offline).chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Write about keyword: wind turbines"}],
        max_tokens=12,
    )
    assert response.choices[0].finish_reason == "length"
    assert response.usage is not None
    assert response.usage.completion_tokens <= 12


def test_invalid_requests_are_rejected_like_openai(offline: str) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client(offline).chat.completions.create(model="gpt-4o-mini", messages=[])
    assert caught.value.status_code == 400
    assert httpx.post(f"{offline}/v1/chat/completions", content=b"{").status_code == 400


def test_alias_path_and_stats(offline: str) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi about kites"}]}
    response = httpx.post(f"{offline}/chat/completions", json=body)
    assert response.status_code == 200
    ask(offline, "second question about kites")
    stats = fetch_stats(offline)
    assert stats["chat_completions"] == 2
    assert stats["chat_completions_ok"] == 2
    assert stats["prompt_tokens"] > 0
    assert stats["completion_tokens"] > 0


def test_latency_slows_chat_and_a_fifth_of_it_the_rest(start_offline: StartProvider) -> None:
    base = start_offline(latency=0.5)
    started = time.monotonic()
    ask(base, "keyword: slow food")
    assert time.monotonic() - started >= 0.5
    started = time.monotonic()
    assert httpx.get(f"{base}/search", params={"q": "slow food"}).status_code == 200
    assert time.monotonic() - started >= 0.1


def test_models_endpoint(offline: str) -> None:
    assert [m.id for m in client(offline).models.list()] == ["offline"]
