"""How requests and responses of chat models are keyed, redacted and stored as JSON."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any

from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, messages_from_dict
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import BaseModel

from policies import redact

# Parts of a request payload that change how the answer is delivered, not what it says: a
# streamed and an unstreamed request for the same content share one journal entry.
_DELIVERY_KEYS = frozenset({"stream", "stream_options"})
# Never copied into the stored request, whatever a caller put in model_kwargs.
_SECRET_KEYS = frozenset(
    {"api_key", "openai_api_key", "authorization", "extra_headers", "headers", "default_headers"}
)
# Response headers can carry cookies and account ids; they are not needed to replay an answer.
_DROPPED_GENERATION_INFO = frozenset({"headers"})


def request_content(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a chat-completions payload that decides the answer."""
    return {key: value for key, value in payload.items() if key not in _DELIVERY_KEYS}


def request_hash(content: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of a request's content."""
    text = json.dumps(
        content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def redacted_request(content: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the request fit for storage: secret-named keys dropped, secrets masked."""
    cleaned = _plain(content, drop=_SECRET_KEYS)
    assert isinstance(cleaned, dict)
    return cleaned


def prompt_chars(content: Mapping[str, Any]) -> int:
    """Characters of the serialised request (a stand-in for its prompt tokens)."""
    return len(json.dumps(content.get("messages", []), ensure_ascii=False, default=str))


def completion_allowance(content: Mapping[str, Any], fallback: int) -> int:
    """The completion tokens a request may use: its ``max_tokens``, or ``fallback``."""
    for name in ("max_completion_tokens", "max_tokens"):
        value = content.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return fallback


def result_to_json(result: ChatResult) -> dict[str, Any]:
    """A JSON-able copy of a chat result, from which :func:`result_from_json` rebuilds it."""
    generations = []
    for generation in result.generations:
        message = generation.message
        if isinstance(message, AIMessageChunk):
            message = AIMessage(**message.model_dump(exclude={"type", "tool_call_chunks"}))
        info = {
            key: value
            for key, value in (generation.generation_info or {}).items()
            if key not in _DROPPED_GENERATION_INFO
        }
        generations.append(
            {
                "message": {"type": message.type, "data": message.model_dump(mode="json")},
                "generation_info": _plain(info),
            }
        )
    return {"generations": generations, "llm_output": _plain(result.llm_output or {})}


def result_from_json(data: Mapping[str, Any]) -> ChatResult:
    """Rebuild the :class:`ChatResult` stored by :func:`result_to_json`."""
    generations = []
    for item in data["generations"]:
        (message,) = messages_from_dict([item["message"]])
        info = dict(item.get("generation_info") or {})
        info["journal_replayed"] = True
        generations.append(ChatGeneration(message=message, generation_info=info))
    return ChatResult(generations=generations, llm_output=dict(data.get("llm_output") or {}))


def replay_chunk(data: Mapping[str, Any]) -> ChatGenerationChunk:
    """The stored answer as one stream chunk (text, tool calls and usage in one piece)."""
    generation = result_from_json(data).generations[0]
    message = generation.message
    assert isinstance(message, AIMessage)
    chunk = AIMessageChunk(
        content=message.content,
        additional_kwargs=message.additional_kwargs,
        response_metadata=message.response_metadata,
        usage_metadata=message.usage_metadata,
        id=message.id,
        tool_call_chunks=[
            {
                "type": "tool_call_chunk",
                "name": call["name"],
                "args": json.dumps(call["args"]),
                "id": call["id"],
                "index": index,
            }
            for index, call in enumerate(message.tool_calls)
        ],
    )
    return ChatGenerationChunk(message=chunk, generation_info=generation.generation_info)


def usage_of(result: ChatResult) -> tuple[int, int] | None:
    """``(prompt_tokens, completion_tokens)`` the provider reported, if it did."""
    token_usage = (result.llm_output or {}).get("token_usage")
    if isinstance(token_usage, Mapping) and token_usage.get("prompt_tokens") is not None:
        return int(token_usage["prompt_tokens"]), int(token_usage.get("completion_tokens") or 0)
    if result.generations:
        usage = getattr(result.generations[0].message, "usage_metadata", None)
        if usage:
            return int(usage["input_tokens"]), int(usage["output_tokens"])
    return None


def estimated_usage(content: Mapping[str, Any], result: ChatResult) -> tuple[int, int]:
    """Token counts guessed from characters (about 4 per token), when none were reported."""
    answer = sum(len(_text(g.message)) for g in result.generations)
    return math.ceil(prompt_chars(content) / 4), math.ceil(answer / 4)


def response_model(result: ChatResult, requested: str) -> str:
    """The model that answered (a dated snapshot name, often), else the one requested."""
    name = (result.llm_output or {}).get("model_name")
    return name if isinstance(name, str) and name else requested


def _text(message: BaseMessage) -> str:
    content = message.content
    text = content if isinstance(content, str) else json.dumps(content, default=str)
    calls = getattr(message, "tool_calls", None) or []
    return text + "".join(json.dumps(call.get("args", {}), default=str) for call in calls)


def _plain(value: Any, *, drop: frozenset[str] = frozenset()) -> Any:
    """JSON-able copy of ``value`` with strings passed through :func:`policies.redact`."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    if isinstance(value, Mapping):
        return {
            str(key): _plain(item, drop=drop)
            for key, item in value.items()
            if str(key).lower() not in drop
        }
    if isinstance(value, list | tuple):
        return [_plain(item, drop=drop) for item in value]
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, type):
        return f"{value.__module__}.{value.__qualname__}"
    return redact(str(value))
