"""The classification table, row by row, on real exceptions from real HTTP answers.

The offline provider answers with the fault; the real ``openai`` client / ``ChatOpenAI`` / httpx
raise what they raise; ``policies.classify`` must put each in its row.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import openai
import pytest
from langchain_openai import ChatOpenAI
from pydantic import BaseModel

from policies import Classification, classify

Start = Callable[..., str]


def chat_error(base: str, timeout: float = 5.0) -> BaseException:
    client = openai.OpenAI(
        base_url=f"{base}/v1",
        api_key="sk-test-000000000000000000000000",
        max_retries=0,
        timeout=timeout,
    )
    try:
        client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hello"}]
        )
    except Exception as exc:
        return exc
    raise AssertionError("the provider was asked to fail")


@pytest.mark.parametrize(
    ("fault", "kind", "reason", "status", "retry_after"),
    [
        ("rate_limit(1.5)", "retryable", "rate_limited", 429, 1.5),
        ("quota", "fatal", "quota_exhausted", 429, None),
        ("server_error", "retryable", "server_error", 500, None),
        ("bad_gateway", "retryable", "server_error", 502, None),
        ("unavailable(2)", "retryable", "server_error", 503, 2.0),
        ("context_length", "escalate", "context_too_long", 400, None),
        ("content_filter", "escalate", "content_filtered", 400, None),
        ("bad_request", "fatal", "bad_request", 400, None),
        ("unprocessable", "fatal", "bad_request", 422, None),
        ("auth", "fatal", "auth", 401, None),
        ("forbidden", "fatal", "auth", 403, None),
        ("not_found", "fatal", "not_found", 404, None),
    ],
)
def test_openai_errors_from_the_provider(
    start_offline: Start,
    fault: str,
    kind: str,
    reason: str,
    status: int,
    retry_after: float | None,
) -> None:
    base = start_offline(faults=f"chat:{fault}")
    exc = chat_error(base)
    c = classify(exc)
    assert (c.kind, c.reason, c.status) == (kind, reason, status), c
    assert c.retry_after == retry_after
    assert "sk-test" not in c.message


def test_openai_timeout_is_retryable(start_offline: Start) -> None:
    base = start_offline(faults="chat:timeout(5)")
    exc = chat_error(base, timeout=0.3)
    assert isinstance(exc, openai.APITimeoutError)
    assert classify(exc) == Classification(
        kind="retryable",
        reason="timeout",
        error_type=classify(exc).error_type,
        message=classify(exc).message,
    )


def test_openai_connection_error_is_retryable() -> None:
    exc = chat_error("http://127.0.0.1:9")
    assert isinstance(exc, openai.APIConnectionError)
    assert (classify(exc).kind, classify(exc).reason) == ("retryable", "connection")


def test_content_filter_finish_reason_through_chatopenai_structured_output(
    start_offline: Start,
) -> None:
    class Answer(BaseModel):
        text: str

    base = start_offline(faults="chat:finish_content_filter")
    model = ChatOpenAI(
        model="gpt-4o-mini",
        base_url=f"{base}/v1",
        api_key="offline",
        max_retries=0,
        http_client=httpx.Client(),
        http_async_client=httpx.AsyncClient(),
    ).with_structured_output(Answer, method="json_schema")
    with pytest.raises(openai.ContentFilterFinishReasonError) as caught:
        model.invoke("hello")
    c = classify(caught.value)
    assert (c.kind, c.reason) == ("escalate", "content_filtered"), c


@pytest.mark.parametrize(
    ("fault", "kind", "status", "retry_after"),
    [
        ("rate_limit(0.5)", "retryable", 429, 0.5),
        ("unavailable(3)", "retryable", 503, 3.0),
        ("server_error", "retryable", 500, None),
        ("not_found", "fatal", 404, None),
        ("forbidden", "fatal", 403, None),
    ],
)
def test_httpx_status_errors_from_search(
    start_offline: Start, fault: str, kind: str, status: int, retry_after: float | None
) -> None:
    base = start_offline(faults=f"search:{fault}")
    response = httpx.get(f"{base}/search", params={"q": "solar"})
    with pytest.raises(httpx.HTTPStatusError) as caught:
        response.raise_for_status()
    c = classify(caught.value)
    assert (c.kind, c.status, c.retry_after) == (kind, status, retry_after), c


def test_httpx_read_timeout_from_a_hanging_page(start_offline: Start) -> None:
    base = start_offline(faults="pages:timeout(5)")
    url = httpx.get(f"{base}/search", params={"q": "solar"}).json()["results"][0]["url"]
    with pytest.raises(httpx.TimeoutException) as caught:
        httpx.get(url, timeout=0.3)
    assert (classify(caught.value).kind, classify(caught.value).reason) == ("retryable", "timeout")
