"""Classification of real openai SDK exceptions, raised by the real client on real responses."""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import httpx2
import openai
import pydantic
import pytest

from policies import Classification, classify

Handler = Callable[[httpx.Request], httpx.Response]


def _client(handler: Handler) -> openai.OpenAI:
    # openai 3 types http_client as an httpx2 client but accepts httpx clients at runtime.
    return openai.OpenAI(
        api_key="x",
        base_url="http://provider.test/v1",
        max_retries=0,
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),  # type: ignore[arg-type]
    )


def _error_body(message: str, *, type_: str | None, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


def _raised_by(handler: Handler) -> BaseException:
    """Make one chat completion call through the real client and return what it raised."""
    with pytest.raises(openai.OpenAIError) as info:
        _client(handler).chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}]
        )
    return info.value


def _api_error(
    status: int,
    *,
    message: str = "boom",
    type_: str | None = "invalid_request_error",
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> BaseException:
    body = _error_body(message, type_=type_, code=code)
    return _raised_by(lambda _req: httpx.Response(status, headers=headers, json=body))


def _completion(finish_reason: str) -> dict[str, Any]:
    return {
        "id": "c1",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "finish_reason": finish_reason,
                "message": {"role": "assistant", "content": '{"x": 1'},
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8},
    }


class _Answer(pydantic.BaseModel):
    x: int


def _parse_error(finish_reason: str) -> BaseException:
    client = _client(lambda _req: httpx.Response(200, json=_completion(finish_reason)))
    with pytest.raises(openai.OpenAIError) as info:
        client.chat.completions.parse(
            model="m", messages=[{"role": "user", "content": "hi"}], response_format=_Answer
        )
    return info.value


def test_rate_limit_is_retryable_with_retry_after_ms() -> None:
    exc = _api_error(
        429,
        type_="requests",
        code="rate_limit_exceeded",
        headers={"retry-after-ms": "1500", "retry-after": "9"},
    )
    assert isinstance(exc, openai.RateLimitError)
    got = classify(exc)
    assert (got.kind, got.reason, got.retry_after) == ("retryable", "rate_limited", 1.5)
    assert got.status == 429
    assert got.code == "rate_limit_exceeded"
    assert got.error_type == "openai.RateLimitError"


def test_rate_limit_retry_after_seconds() -> None:
    got = classify(_api_error(429, code="rate_limit_exceeded", headers={"Retry-After": "7"}))
    assert (got.kind, got.reason, got.retry_after) == ("retryable", "rate_limited", 7.0)


def test_rate_limit_retry_after_http_date() -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    got = classify(_api_error(429, code="rate_limit_exceeded", headers={"retry-after": when}))
    assert got.kind == "retryable"
    assert got.retry_after is not None
    assert 25.0 <= got.retry_after <= 31.0


def test_rate_limit_without_header_has_no_retry_after() -> None:
    got = classify(_api_error(429, code="rate_limit_exceeded"))
    assert (got.kind, got.reason, got.retry_after) == ("retryable", "rate_limited", None)


def test_insufficient_quota_code_is_fatal() -> None:
    exc = _api_error(
        429,
        message="You exceeded your current quota",
        type_="insufficient_quota",
        code="insufficient_quota",
        headers={"retry-after": "1"},
    )
    assert isinstance(exc, openai.RateLimitError)
    got = classify(exc)
    assert (got.kind, got.reason, got.code, got.status) == (
        "fatal",
        "quota_exhausted",
        "insufficient_quota",
        429,
    )


def test_insufficient_quota_in_type_only_is_fatal() -> None:
    got = classify(_api_error(429, type_="insufficient_quota", code=None))
    assert (got.kind, got.reason) == ("fatal", "quota_exhausted")


@pytest.mark.parametrize(
    ("status", "reason"),
    [(408, "timeout"), (409, "conflict"), (500, "server_error"), (502, "server_error")],
)
def test_transient_statuses_are_retryable(status: int, reason: str) -> None:
    got = classify(_api_error(status, type_="server_error"))
    assert (got.kind, got.reason, got.status) == ("retryable", reason, status)


def test_internal_server_error_class() -> None:
    exc = _api_error(500, type_="server_error")
    assert isinstance(exc, openai.InternalServerError)
    assert classify(exc).reason == "server_error"


def test_503_honours_retry_after() -> None:
    got = classify(_api_error(503, type_="server_error", headers={"Retry-After": "12"}))
    assert (got.kind, got.reason, got.retry_after) == ("retryable", "server_error", 12.0)


def test_timeout_is_retryable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("read timed out", request=request)

    exc = _raised_by(handler)
    assert isinstance(exc, openai.APITimeoutError)
    got = classify(exc)
    assert (got.kind, got.reason) == ("retryable", "timeout")


def test_connection_error_is_retryable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    exc = _raised_by(handler)
    assert type(exc) is openai.APIConnectionError
    got = classify(exc)
    assert (got.kind, got.reason) == ("retryable", "connection")


def test_context_length_exceeded_escalates() -> None:
    got = classify(
        _api_error(
            400,
            message="This model's maximum context length is 8192 tokens.",
            code="context_length_exceeded",
        )
    )
    assert (got.kind, got.reason, got.code, got.status) == (
        "escalate",
        "context_too_long",
        "context_length_exceeded",
        400,
    )


def test_context_length_message_without_code_escalates() -> None:
    # OpenAI-compatible servers often send only the text.
    got = classify(
        _api_error(400, message="This model's maximum context length is 4096 tokens", code=None)
    )
    assert (got.kind, got.reason) == ("escalate", "context_too_long")


@pytest.mark.parametrize("code", ["content_filter", "content_policy_violation"])
def test_content_filter_code_escalates(code: str) -> None:
    got = classify(_api_error(400, message="filtered", code=code))
    assert (got.kind, got.reason, got.code) == ("escalate", "content_filtered", code)


def test_content_filter_finish_reason_escalates() -> None:
    exc = _parse_error("content_filter")
    assert isinstance(exc, openai.ContentFilterFinishReasonError)
    got = classify(exc)
    assert (got.kind, got.reason) == ("escalate", "content_filtered")


def test_length_finish_reason_escalates() -> None:
    exc = _parse_error("length")
    assert isinstance(exc, openai.LengthFinishReasonError)
    got = classify(exc)
    assert (got.kind, got.reason) == ("escalate", "output_truncated")


@pytest.mark.parametrize(
    ("status", "exc_type", "reason"),
    [
        (400, openai.BadRequestError, "bad_request"),
        (422, openai.UnprocessableEntityError, "bad_request"),
        (401, openai.AuthenticationError, "auth"),
        (403, openai.PermissionDeniedError, "auth"),
        (404, openai.NotFoundError, "not_found"),
    ],
)
def test_client_errors_are_fatal(status: int, exc_type: type[BaseException], reason: str) -> None:
    exc = _api_error(status, code="some_code")
    assert isinstance(exc, exc_type)
    got = classify(exc)
    assert (got.kind, got.reason, got.status, got.code) == ("fatal", reason, status, "some_code")


def test_auth_error_message_does_not_leak_the_key() -> None:
    key = "sk-proj-" + "A1b2C3d4" * 6
    got = classify(
        _api_error(401, message=f"Incorrect API key provided: {key}.", code="invalid_api_key")
    )
    assert got.kind == "fatal"
    assert key not in got.message
    assert key not in json.dumps(got.to_dict())
    assert "Incorrect API key provided" in got.message


def test_non_json_error_body_still_classified_by_status() -> None:
    exc = _raised_by(lambda _req: httpx.Response(502, text="<html>Bad gateway</html>"))
    got = classify(exc)
    assert (got.kind, got.reason, got.status, got.code) == ("retryable", "server_error", 502, None)


async def test_async_client_errors_classify_the_same() -> None:
    async def handler(_request: httpx.Request) -> httpx.Response:
        body = _error_body("slow down", type_="requests", code="rate_limit_exceeded")
        return httpx.Response(429, headers={"retry-after": "2"}, json=body)

    client = openai.AsyncOpenAI(
        api_key="x",
        base_url="http://provider.test/v1",
        max_retries=0,
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),  # type: ignore[arg-type]
    )
    with pytest.raises(openai.RateLimitError) as info:
        await client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}]
        )
    got: Classification = classify(info.value)
    assert (got.kind, got.reason, got.retry_after) == ("retryable", "rate_limited", 2.0)


def test_native_httpx2_client_errors_classify_the_same() -> None:
    def handler(_request: httpx2.Request) -> httpx2.Response:
        body = _error_body("quota", type_="insufficient_quota", code="insufficient_quota")
        return httpx2.Response(429, json=body)

    client = openai.OpenAI(
        api_key="x",
        base_url="http://provider.test/v1",
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
    )
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    got = classify(info.value)
    assert (got.kind, got.reason, got.status) == ("fatal", "quota_exhausted", 429)
