"""Chat completions in OpenAI's wire format, computed deterministically from the request.

The answer is a pure function of (seed, model, messages, response_format, tools, tool_choice):
prose about the prompt's topic, JSON valid against a requested schema, or a forced tool call.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from starlette.responses import JSONResponse, Response, StreamingResponse

from agent_graph.provider._inject import error_response
from agent_graph.provider._jsonschema import generate
from agent_graph.provider._text import (
    Topic,
    count_tokens,
    extract_topic,
    hexdigest,
    prose,
    requested_length,
    rng_for,
    short_phrase,
)

_MAX_CHOICES = 8
_CHUNK_CHARS = 24


class ChatRequestError(Exception):
    """A request the real API would reject with 400 ``invalid_request_error``."""

    def __init__(self, message: str, param: str | None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param

    def response(self) -> JSONResponse:
        """The 400 answer for this error."""
        return error_response(400, self.message, "invalid_request_error", None, self.param)


@dataclass(frozen=True)
class ChatRequest:
    """The parts of a chat-completions request body that the provider uses."""

    model: str
    messages: list[dict[str, Any]]
    response_format: dict[str, Any] | None
    tools: list[dict[str, Any]]
    tool_choice: Any
    stream: bool
    include_usage: bool
    n: int
    max_tokens: int | None


def parse_request(body: Any) -> ChatRequest:
    """Validate a request body; raise :class:`ChatRequestError` like the real API would."""
    if not isinstance(body, dict):
        raise ChatRequestError("The request body must be a JSON object.", None)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise ChatRequestError("you must provide a model parameter", "model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ChatRequestError("'messages' must be a non-empty array.", "messages")
    if not all(isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages):
        raise ChatRequestError("Each message must be an object with a 'role'.", "messages")
    response_format = body.get("response_format")
    if response_format is not None:
        kind = response_format.get("type") if isinstance(response_format, dict) else None
        if kind not in ("text", "json_object", "json_schema"):
            raise ChatRequestError(
                "response_format.type must be 'text', 'json_object' or 'json_schema'.",
                "response_format",
            )
        if kind == "json_schema" and not isinstance(response_format.get("json_schema"), dict):
            raise ChatRequestError(
                "response_format.json_schema must be an object.", "response_format.json_schema"
            )
    tools = body.get("tools") or []
    if not isinstance(tools, list) or not all(_tool_name(t) for t in tools):
        raise ChatRequestError("Each tool must be a function with a name.", "tools")
    options = body.get("stream_options") or {}
    n = body.get("n") or 1
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    return ChatRequest(
        model=model,
        messages=messages,
        response_format=response_format,
        tools=tools,
        tool_choice=body.get("tool_choice"),
        stream=bool(body.get("stream")),
        include_usage=bool(isinstance(options, dict) and options.get("include_usage")),
        n=max(1, min(_MAX_CHOICES, int(n))) if isinstance(n, int) else 1,
        max_tokens=limit if isinstance(limit, int) and limit > 0 else None,
    )


def _tool_name(tool: Any) -> str | None:
    if not isinstance(tool, dict) or not isinstance(tool.get("function"), dict):
        return None
    name = tool["function"].get("name")
    return name if isinstance(name, str) and name else None


def _text_of(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def prompt_tokens(req: ChatRequest) -> int:
    """Approximate prompt tokens: words and punctuation of every message, plus overheads."""
    total = 3 + sum(4 + count_tokens(_text_of(m)) for m in req.messages)
    if req.tools:
        total += count_tokens(json.dumps(req.tools))
    if req.response_format and req.response_format.get("type") == "json_schema":
        total += count_tokens(json.dumps(req.response_format))
    return total


@dataclass(frozen=True)
class Completion:
    """A finished completion: the response object plus its token counts."""

    body: dict[str, Any]
    prompt_tokens: int
    completion_tokens: int


def complete(req: ChatRequest, seed: int, base_url: str, *, content_filter: bool) -> Completion:
    """Compute the completion for ``req``.

    Args:
        req: the parsed request.
        seed: the provider seed; part of the determinism key.
        base_url: this server's base URL (used in generated ``url`` strings).
        content_filter: answer with ``finish_reason="content_filter"`` and no content.
    """
    key = hexdigest(
        seed, req.model, req.messages, req.response_format, req.tools, req.tool_choice, length=32
    )
    last_user = next((m for m in reversed(req.messages) if m.get("role") == "user"), None)
    user_text = _text_of(last_user) if last_user else ""
    topic = extract_topic(user_text)
    if topic.phrase == "the topic":
        topic = extract_topic("\n".join(_text_of(m) for m in req.messages))
    choices: list[dict[str, Any]] = []
    completion_tokens = 0
    for index in range(req.n):
        if content_filter:
            message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
            choices.append(_choice(index, message, "content_filter"))
            continue
        message, finish = _answer(req, key, index, topic, user_text, base_url)
        completion_tokens += count_tokens(message.get("content") or "") + sum(
            count_tokens(call["function"]["arguments"]) for call in message.get("tool_calls", [])
        )
        choices.append(_choice(index, message, finish))
    p_tokens = prompt_tokens(req)
    body = {
        "id": f"chatcmpl-{key[:24]}",
        "object": "chat.completion",
        "created": 1_700_000_000 + int(key[:8], 16) % 10_000_000,
        "model": req.model,
        "system_fingerprint": "fp_offline",
        "choices": choices,
        "usage": {
            "prompt_tokens": p_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": p_tokens + completion_tokens,
        },
    }
    return Completion(body, p_tokens, completion_tokens)


def _choice(index: int, message: dict[str, Any], finish: str) -> dict[str, Any]:
    return {"index": index, "message": message, "logprobs": None, "finish_reason": finish}


def _answer(
    req: ChatRequest, key: str, index: int, topic: Topic, user_text: str, base_url: str
) -> tuple[dict[str, Any], str]:
    rng = rng_for(key, index)
    tool = _forced_tool(req, user_text)
    if tool is not None:
        function = tool["function"]
        params = function.get("parameters") or {"type": "object", "properties": {}}
        arguments = generate(params, topic, rng, base_url)
        call = {
            "id": f"call_{hexdigest(key, index, 'tool', length=24)}",
            "type": "function",
            "function": {"name": function["name"], "arguments": json.dumps(arguments)},
        }
        message = {"role": "assistant", "content": None, "refusal": None, "tool_calls": [call]}
        return message, "tool_calls"
    kind = (req.response_format or {}).get("type", "text")
    if kind == "json_schema":
        schema = (req.response_format or {})["json_schema"].get("schema") or {"type": "object"}
        content = json.dumps(generate(schema, topic, rng, base_url))
    elif kind == "json_object":
        content = json.dumps(
            {
                "topic": topic.phrase,
                "summary": prose(topic, rng, 30),
                "points": [short_phrase(topic, rng, i) for i in range(3)],
            }
        )
    else:
        return _text_answer(req, topic, user_text, rng)
    return {"role": "assistant", "content": content, "refusal": None}, "stop"


def _text_answer(
    req: ChatRequest, topic: Topic, user_text: str, rng: Any
) -> tuple[dict[str, Any], str]:
    text = prose(topic, rng, requested_length(user_text, rng))
    if "markdown" in user_text.lower():
        sentences = text.split(". ")
        half = max(1, len(sentences) // 2)
        text = (
            f"## {topic.title}\n\n"
            + ". ".join(sentences[:half]).rstrip(".")
            + ".\n\n"
            + ". ".join(sentences[half:])
        )
    finish = "stop"
    if req.max_tokens is not None and count_tokens(text) > req.max_tokens:
        words = text.split(" ")
        while words and count_tokens(" ".join(words)) > req.max_tokens:
            words.pop()
        text = " ".join(words)
        finish = "length"
    return {"role": "assistant", "content": text, "refusal": None}, finish


def _forced_tool(req: ChatRequest, user_text: str) -> dict[str, Any] | None:
    """The tool to call: the one ``tool_choice`` forces, or under ``auto`` one the prompt names."""
    if not req.tools or req.tool_choice == "none":
        return None
    by_name: dict[str | None, dict[str, Any]] = {_tool_name(t): t for t in req.tools}
    choice = req.tool_choice
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        forced = by_name.get(name if isinstance(name, str) else None)
        return forced if forced is not None else req.tools[0]
    if choice in ("required", "any"):
        return req.tools[0]
    if req.messages[-1].get("role") == "tool":
        return None  # a tool already answered: reply in text, as a model would
    lowered = user_text.lower()
    for name, tool in by_name.items():
        if name and (name.lower() in lowered or name.lower().replace("_", " ") in lowered):
            return tool
    return None


def respond(completion: Completion, req: ChatRequest) -> Response:
    """Return the completion as JSON, or as server-sent events when the request streams."""
    if not req.stream:
        return JSONResponse(completion.body)
    return StreamingResponse(
        _events(completion, req.include_usage),
        media_type="text/event-stream",
        headers={"cache-control": "no-cache"},
    )


async def _events(completion: Completion, include_usage: bool) -> AsyncIterator[str]:
    body = completion.body
    head = {k: body[k] for k in ("id", "created", "model", "system_fingerprint")}
    head["object"] = "chat.completion.chunk"

    def chunk(index: int, delta: dict[str, Any], finish: str | None) -> str:
        payload: dict[str, Any] = {
            **head,
            "choices": [
                {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
            ],
        }
        if include_usage:
            payload["usage"] = None
        return f"data: {json.dumps(payload)}\n\n"

    for choice in body["choices"]:
        index, message = choice["index"], choice["message"]
        yield chunk(index, {"role": "assistant", "content": "", "refusal": None}, None)
        for piece in _pieces(message.get("content") or ""):
            yield chunk(index, {"content": piece}, None)
            await asyncio.sleep(0)
        for position, call in enumerate(message.get("tool_calls", [])):
            opening = {
                "index": position,
                "id": call["id"],
                "type": "function",
                "function": {"name": call["function"]["name"], "arguments": ""},
            }
            yield chunk(index, {"tool_calls": [opening]}, None)
            for piece in _pieces(call["function"]["arguments"]):
                delta = {"tool_calls": [{"index": position, "function": {"arguments": piece}}]}
                yield chunk(index, delta, None)
                await asyncio.sleep(0)
        yield chunk(index, {}, choice["finish_reason"])
    if include_usage:
        yield f"data: {json.dumps({**head, 'choices': [], 'usage': body['usage']})}\n\n"
    yield "data: [DONE]\n\n"


def _pieces(text: str) -> list[str]:
    """Split ``text`` into stream pieces of a few words each; joined, they give ``text`` back."""
    pieces: list[str] = []
    current = ""
    for token in re.findall(r"\s*\S+\s*|\s+", text):
        current += token
        if len(current) >= _CHUNK_CHARS:
            pieces.append(current)
            current = ""
    if current:
        pieces.append(current)
    return pieces
