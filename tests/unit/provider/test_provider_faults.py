"""Fault injection: each kind surfaces as the openai exception a real outage would raise."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import openai
import pytest
from langchain_openai import ChatOpenAI
from pydantic import BaseModel

from agent_graph.provider import FaultPlan, FaultRule, fetch_stats, parse_faults
from policies._errors import ConfigurationError

StartProvider = Callable[..., str]


def client(base: str, timeout: float = 10.0) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base}/v1", api_key="offline", max_retries=0, timeout=timeout)


def ask(base: str, prompt: str = "Tell me about kites", timeout: float = 10.0) -> str:
    response = client(base, timeout).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}]
    )
    return response.choices[0].message.content or ""


@pytest.mark.parametrize(
    ("kind", "exc_type", "status", "code"),
    [
        ("rate_limit", openai.RateLimitError, 429, "rate_limit_exceeded"),
        ("quota", openai.RateLimitError, 429, "insufficient_quota"),
        ("server_error", openai.InternalServerError, 500, "server_error"),
        ("bad_gateway", openai.InternalServerError, 502, "bad_gateway"),
        ("unavailable", openai.InternalServerError, 503, "service_unavailable"),
        ("bad_request", openai.BadRequestError, 400, "invalid_request_error"),
        ("context_length", openai.BadRequestError, 400, "context_length_exceeded"),
        ("content_filter", openai.BadRequestError, 400, "content_policy_violation"),
        ("auth", openai.AuthenticationError, 401, "invalid_api_key"),
        ("forbidden", openai.PermissionDeniedError, 403, "forbidden"),
        ("not_found", openai.NotFoundError, 404, "model_not_found"),
        ("unprocessable", openai.UnprocessableEntityError, 422, "unprocessable_entity"),
    ],
)
def test_fault_kind_raises_matching_openai_error(
    start_offline: StartProvider,
    kind: str,
    exc_type: type[openai.APIStatusError],
    status: int,
    code: str,
) -> None:
    base = start_offline(faults=f"chat:{kind}@1")
    with pytest.raises(exc_type) as caught:
        ask(base)
    assert caught.value.status_code == status
    assert caught.value.code == code
    assert ask(base)  # @1: only the first request fails
    stats = fetch_stats(base)
    assert stats["faults_injected"] == {f"chat:{kind}": 1}
    assert (stats["chat_completions"], stats["chat_completions_ok"]) == (2, 1)


def test_quota_is_told_apart_from_rate_limit(start_offline: StartProvider) -> None:
    base = start_offline(faults="chat:quota")
    with pytest.raises(openai.RateLimitError) as caught:
        ask(base)
    assert caught.value.type == "insufficient_quota"
    assert "retry-after" not in caught.value.response.headers


def test_retry_after_headers_are_visible(start_offline: StartProvider) -> None:
    base = start_offline(faults="chat:rate_limit(1.5)@1,chat:unavailable(2)@2,chat:rate_limit@3")
    seen = []
    for _ in range(3):
        with pytest.raises(openai.APIStatusError) as caught:
            ask(base)
        headers = caught.value.response.headers
        seen.append((headers["retry-after"], headers["retry-after-ms"]))
    assert seen == [("1.5", "1500"), ("2", "2000"), ("0.2", "200")]


def test_timeout_fault_outlasts_the_client_timeout(start_offline: StartProvider) -> None:
    base = start_offline(faults="chat:timeout(20)@1,chat:timeout(0.3)@2")
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        ask(base, timeout=0.5)
    assert time.monotonic() - started < 5
    assert httpx.get(f"{base}/_health").json() == {"ok": True}  # the server is not blocked
    started = time.monotonic()
    assert ask(base)  # a short hang ends in a normal answer
    assert time.monotonic() - started >= 0.3
    assert fetch_stats(base)["faults_injected"] == {"chat:timeout": 2}


class Verdict(BaseModel):
    passed: bool


def test_finish_content_filter(start_offline: StartProvider) -> None:
    base = start_offline(faults="chat:finish_content_filter@1+2")
    response = client(base).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hello"}]
    )
    assert response.choices[0].finish_reason == "content_filter"
    assert response.choices[0].message.content is None
    model = ChatOpenAI(
        model="gpt-4o-mini",
        base_url=f"{base}/v1",
        api_key="offline",
        max_retries=0,
    )
    with pytest.raises(openai.ContentFilterFinishReasonError):
        model.with_structured_output(Verdict).invoke("Judge the draft")
    assert fetch_stats(base)["chat_completions_ok"] == 0


def test_ordinals_count_matching_requests(start_offline: StartProvider) -> None:
    base = start_offline(faults="chat:server_error@2+3")
    outcomes = []
    for i in range(5):
        try:
            ask(base, f"question {i}")
            outcomes.append("ok")
        except openai.InternalServerError:
            outcomes.append("fail")
    assert outcomes == ["ok", "fail", "fail", "ok", "ok"]


def run_batch(base: str, prompts: list[str]) -> set[str]:
    failed = set()
    for prompt in prompts:
        try:
            ask(base, prompt)
        except openai.InternalServerError:
            failed.add(prompt)
    return failed


def test_rate_faults_do_not_depend_on_request_order(start_offline: StartProvider) -> None:
    prompts = [f"Write about topic number {i}" for i in range(16)]
    forward = run_batch(start_offline(faults="chat:server_error=0.5"), prompts)
    backward = run_batch(start_offline(faults="chat:server_error=0.5"), prompts[::-1])
    assert forward == backward
    assert 0 < len(forward) < len(prompts)
    other_seed = run_batch(start_offline(seed=3, faults="chat:server_error=0.5"), prompts)
    assert other_seed != forward


def test_a_retried_request_gets_a_fresh_draw(start_offline: StartProvider) -> None:
    base = start_offline(faults="chat:rate_limit=0.5")
    prompts = [f"Write about topic number {i}" for i in range(16)]
    for prompt in run_batch_rate_limited(base, prompts):
        for _attempt in range(20):
            try:
                ask(base, prompt)
                break
            except openai.RateLimitError:
                continue
        else:
            pytest.fail(f"{prompt!r} never succeeded")


def run_batch_rate_limited(base: str, prompts: list[str]) -> list[str]:
    failed = []
    for prompt in prompts:
        try:
            ask(base, prompt)
        except openai.RateLimitError:
            failed.append(prompt)
    assert failed
    return failed


def test_substring_restricts_a_rule(start_offline: StartProvider) -> None:
    base = start_offline(faults="chat~Outline:quota@1")
    assert ask(base, "Write a draft")
    with pytest.raises(openai.RateLimitError):
        ask(base, "Make an Outline for kites")
    assert ask(base, "Make an Outline for kites")
    assert ask(base, "Make an outline for kites")  # case-sensitive: no match anyway


def test_faults_on_other_targets(start_offline: StartProvider) -> None:
    base = start_offline(
        faults="search:unavailable(0.5)@1,pages:not_found,cms:server_error@1,notify~ops:forbidden"
    )
    first = httpx.get(f"{base}/search", params={"q": "kites"})
    assert first.status_code == 503
    assert first.headers["retry-after"] == "0.5"
    results = httpx.get(f"{base}/search", params={"q": "kites"}).json()["results"]
    assert httpx.get(results[0]["url"]).status_code == 404
    post = {"slug": "kites", "title": "Kites", "markdown": "# Kites"}
    assert httpx.post(f"{base}/cms/posts", json=post).status_code == 500
    assert httpx.post(f"{base}/cms/posts", json=post).status_code == 201
    note = {"channel": "ops", "slug": "kites", "text": "live"}
    assert httpx.post(f"{base}/notify", json=note).status_code == 403
    stats = fetch_stats(base)
    assert stats["faults_injected"] == {
        "search:unavailable": 1,
        "pages:not_found": 1,
        "cms:server_error": 1,
        "notify:forbidden": 1,
    }
    assert (stats["searches"], stats["searches_ok"]) == (2, 1)
    assert stats["posts"] == {"kites": 1}


def test_wildcard_target(start_offline: StartProvider) -> None:
    base = start_offline(faults="*:bad_gateway@1+2")
    assert httpx.get(f"{base}/search", params={"q": "kites"}).status_code == 502
    with pytest.raises(openai.InternalServerError):
        ask(base)
    assert ask(base)
    assert httpx.get(f"{base}/_health").status_code == 200  # admin endpoints never fail


def test_replace_faults_at_runtime(start_offline: StartProvider) -> None:
    base = start_offline(faults="chat:server_error")
    with pytest.raises(openai.InternalServerError):
        ask(base)
    assert httpx.get(f"{base}/_faults").json() == {"spec": "chat:server_error"}
    assert httpx.put(f"{base}/_faults", json={"spec": ""}).json() == {"spec": ""}
    assert ask(base)
    bad = httpx.put(f"{base}/_faults", json={"spec": "chat:explode"})
    assert bad.status_code == 400
    assert "explode" in bad.json()["error"]["message"]
    assert httpx.put(f"{base}/_faults", json={"spec": "chat:auth@1"}).status_code == 200
    with pytest.raises(openai.AuthenticationError):
        ask(base)


def test_parse_faults_builds_rules() -> None:
    plan = parse_faults(" chat~Outline:quota@1 , search:timeout(2.5)=0.25,*:server_error ")
    assert plan.rules == (
        FaultRule("chat", "quota", substring="Outline", ordinals=frozenset({1})),
        FaultRule("search", "timeout", arg=2.5, rate=0.25),
        FaultRule("*", "server_error"),
    )
    assert plan.spec == "chat~Outline:quota@1,search:timeout(2.5)=0.25,*:server_error"
    assert parse_faults(plan.spec) == plan
    assert parse_faults("") == FaultPlan() == parse_faults("none")
    assert not FaultPlan()


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        ("chat", "'chat'"),
        ("mail:server_error", "unknown target 'mail'"),
        ("chat:explode", "unknown kind 'explode'"),
        ("chat:server_error=1.5", "between 0 and 1"),
        ("chat:server_error=abc", "not a number"),
        ("chat:server_error@0", "positive integers"),
        ("chat:server_error@1+x", "positive integers"),
        ("chat:quota(3)", "takes no argument"),
        ("chat:timeout(-1)", ">= 0"),
        ("search:finish_content_filter", "only applies to chat"),
        ("chat:quota,,chat:auth", "empty rule"),
    ],
)
def test_parse_faults_errors_name_the_bad_part(spec: str, named: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_faults(spec)
    assert named in str(caught.value)
    assert "TARGET[~SUBSTRING]:KIND" in caught.value.hint
