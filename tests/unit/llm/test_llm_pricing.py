"""Prices per model and the request keys of the LLM journal (pure code, no I/O)."""

from __future__ import annotations

import pytest

from agent_graph.llm import NOMINAL_PRICE, ModelPrice, PriceTable
from agent_graph.llm._pricing import estimate_usd
from agent_graph.llm._records import redacted_request, request_content, request_hash
from policies import ConfigurationError


def test_list_price_of_the_default_model_and_its_snapshots() -> None:
    table = PriceTable.standard()
    mini = table.price_of("gpt-4o-mini")
    assert (mini.prompt, mini.completion) == (0.15, 0.60)
    assert table.price_of("gpt-4o-mini-2024-07-18") == mini, "longest listed prefix wins"
    assert table.price_of("gpt-4o-2024-08-06") == table.price_of("gpt-4o")
    assert table.price_of("some-local-model") == NOMINAL_PRICE
    assert table.cost("gpt-4o-mini", 1_000_000, 1_000_000) == pytest.approx(0.75)
    assert table.cost("gpt-4o-mini", 1000, 500) == pytest.approx(0.00015 + 0.0003)


def test_prices_are_overridable_without_changing_the_original() -> None:
    table = PriceTable.standard()
    custom = table.with_prices(
        {"gpt-4o-mini": (1.0, 2.0), "mine": ModelPrice(prompt=3, completion=4)}
    )
    assert custom.price_of("gpt-4o-mini") == ModelPrice(prompt=1.0, completion=2.0)
    assert custom.price_of("mine").completion == 4
    assert table.price_of("gpt-4o-mini").prompt == 0.15
    parsed = PriceTable.parse("gpt-4o-mini=0.3/1.2; *=0.5/1.5, local-llm=0/0")
    assert parsed.price_of("gpt-4o-mini") == ModelPrice(prompt=0.3, completion=1.2)
    assert parsed.price_of("unknown") == ModelPrice(prompt=0.5, completion=1.5)
    assert parsed.cost("local-llm", 10_000, 10_000) == 0
    assert PriceTable.parse("") == table


@pytest.mark.parametrize("spec", ["gpt-4o-mini", "m=1", "m=a/b", "m=-1/2", "m=inf/1"])
def test_malformed_prices_name_the_fix(spec: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        PriceTable.parse(spec)
    assert raised.value.hint


def test_estimate_is_prompt_chars_over_four_plus_the_completion_allowance() -> None:
    price = ModelPrice(prompt=1.0, completion=2.0)
    assert estimate_usd(price, 4000, 500) == pytest.approx((1000 * 1.0 + 500 * 2.0) / 1e6)


def test_request_key_ignores_delivery_and_sees_content() -> None:
    base = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    streamed = {**base, "stream": True, "stream_options": {"include_usage": True}}
    assert request_hash(request_content(streamed)) == request_hash(request_content(base))
    other = {**base, "response_format": {"type": "json_object"}}
    assert request_hash(request_content(other)) != request_hash(request_content(base))
    assert len(request_hash(base)) == 64


def test_stored_request_has_no_secrets() -> None:
    payload = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "my key is sk-abcdefghijklmnopqrstuvwx"}],
        "api_key": "sk-zzzzzzzzzzzzzzzzzzzzzzzz",
        "extra_headers": {"Authorization": "Bearer abcdefghijkl"},
    }
    stored = redacted_request(payload)
    assert "api_key" not in stored
    assert "extra_headers" not in stored
    assert "sk-abcdefghij" not in str(stored)
    assert stored["model"] == "gpt-4o-mini"
