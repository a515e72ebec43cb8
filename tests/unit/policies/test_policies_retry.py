"""RetryPolicy values, Policies lookup and the pure decide() function."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from policies import (
    DEFAULT_POLICIES,
    OPERATION_KINDS,
    Classification,
    ConfigurationError,
    Decision,
    Policies,
    RetryPolicy,
    decide,
)

POLICY = RetryPolicy(
    attempts=5, initial=1.0, multiplier=2.0, cap=5.0, jitter=0.2, retry_after_cap=10.0
)


def _retryable(retry_after: float | None = None) -> Classification:
    return Classification(kind="retryable", reason="rate_limited", retry_after=retry_after)


def _decide(
    classification: Classification,
    *,
    attempt: int = 1,
    elapsed: float = 0.0,
    policy: RetryPolicy = POLICY,
    random: float = 0.0,
) -> Decision:
    return decide(classification, attempt=attempt, elapsed=elapsed, policy=policy, random=random)


def test_fatal_is_dead_lettered_at_once() -> None:
    got = _decide(Classification(kind="fatal", reason="auth"))
    assert got == Decision("dead_letter", 0.0, "fatal: auth")


def test_escalate_is_escalated_at_once() -> None:
    got = _decide(Classification(kind="escalate", reason="context_too_long"), attempt=5)
    assert (got.action, got.delay) == ("escalate", 0.0)
    assert "context_too_long" in got.why


def test_backoff_grows_exponentially_up_to_the_cap() -> None:
    delays = [_decide(_retryable(), attempt=n).delay for n in range(1, 5)]
    assert delays == [1.0, 2.0, 4.0, 5.0]
    assert POLICY.backoff(40, random=0.0) == 5.0  # no overflow far out


def test_jitter_stays_within_its_fraction_below_the_delay() -> None:
    for random in (0.0, 0.25, 0.5, 0.999999):
        delay = _decide(_retryable(), attempt=3, random=random).delay
        assert 4.0 * 0.8 < delay <= 4.0
    assert _decide(_retryable(), attempt=3, random=0.5).delay == pytest.approx(3.6)
    capped = [_decide(_retryable(), attempt=4, random=r / 10).delay for r in range(10)]
    assert all(4.0 < d <= 5.0 for d in capped)
    assert len(set(capped)) == 10  # clients at the cap still spread out


def test_no_jitter_policy_is_exact() -> None:
    policy = dataclasses.replace(POLICY, jitter=0.0)
    assert _decide(_retryable(), attempt=2, policy=policy, random=0.9).delay == 2.0


def test_constant_backoff_with_multiplier_one() -> None:
    policy = RetryPolicy(attempts=4, initial=0.5, multiplier=1.0, cap=0.5, jitter=0.0)
    assert {_decide(_retryable(), attempt=n, policy=policy).delay for n in (1, 2, 3)} == {0.5}


def test_retry_after_overrides_backoff_without_jitter() -> None:
    got = _decide(_retryable(retry_after=7.0), attempt=1, random=0.9)
    assert (got.action, got.delay) == ("retry", 7.0)
    assert "Retry-After" in got.why


def test_retry_after_shorter_than_backoff_is_honoured() -> None:
    assert _decide(_retryable(retry_after=0.1), attempt=4).delay == 0.1


def test_retry_after_is_capped() -> None:
    got = _decide(_retryable(retry_after=3600.0))
    assert (got.action, got.delay) == ("retry", 10.0)
    assert "capped" in got.why


def test_attempts_exhausted() -> None:
    assert _decide(_retryable(), attempt=4).action == "retry"
    got = _decide(_retryable(), attempt=5)
    assert (got.action, got.delay) == ("dead_letter", 0.0)
    assert got.why.startswith("attempts exhausted")
    single = RetryPolicy(attempts=1)
    assert _decide(_retryable(), attempt=1, policy=single).action == "dead_letter"


def test_deadline_stops_a_retry_that_would_end_too_late() -> None:
    policy = dataclasses.replace(POLICY, deadline=10.0)
    assert _decide(_retryable(), attempt=2, elapsed=8.0, policy=policy).action == "retry"
    late = _decide(_retryable(), attempt=2, elapsed=8.5, policy=policy)
    assert (late.action, late.delay) == ("dead_letter", 0.0)
    assert late.why.startswith("deadline exceeded")
    honoured = _decide(_retryable(retry_after=5.0), elapsed=6.0, policy=policy)
    assert honoured.action == "dead_letter"


def test_decide_is_pure() -> None:
    first = _decide(_retryable(), attempt=3, elapsed=1.0, random=0.3)
    assert all(_decide(_retryable(), attempt=3, elapsed=1.0, random=0.3) == first for _ in range(5))
    assert first.to_dict() == {"action": "retry", "delay": first.delay, "why": first.why}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"attempt": 0},
        {"attempt": True},
        {"random": 1.0},
        {"random": -0.1},
        {"elapsed": -1.0},
        {"elapsed": float("nan")},
    ],
)
def test_decide_rejects_bad_arguments(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        _decide(_retryable(), **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"attempts": 0}, "attempts"),
        ({"attempts": 2.5}, "attempts"),
        ({"attempts": True}, "attempts"),
        ({"initial": -1.0}, "initial"),
        ({"initial": float("nan")}, "initial"),
        ({"multiplier": 0.5}, "multiplier"),
        ({"cap": 0.5, "initial": 1.0}, "cap"),
        ({"jitter": 1.5}, "jitter"),
        ({"jitter": -0.1}, "jitter"),
        ({"deadline": 0.0}, "deadline"),
        ({"retry_after_cap": -1.0}, "retry_after_cap"),
        ({"cap": "30"}, "cap"),
    ],
)
def test_policy_validation_names_the_field(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigurationError, match=field) as info:
        RetryPolicy(**kwargs)
    assert info.value.hint


def test_policy_is_frozen_and_serialisable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        POLICY.attempts = 9  # type: ignore[misc]
    assert RetryPolicy(**POLICY.to_dict()) == POLICY


def test_default_policies() -> None:
    assert set(DEFAULT_POLICIES) == set(OPERATION_KINDS) == {"llm", "http", "db", "file", "tool"}
    llm, http, db = DEFAULT_POLICIES["llm"], DEFAULT_POLICIES["http"], DEFAULT_POLICIES["db"]
    assert (llm.attempts, llm.initial, llm.cap) == (6, 1.0, 60.0)
    assert (http.attempts, http.initial, http.cap) == (5, 0.5, 30.0)
    assert (db.attempts, db.initial, db.cap) == (5, 0.1, 5.0)
    assert DEFAULT_POLICIES["file"].attempts == 3
    assert DEFAULT_POLICIES["tool"].attempts == 3
    with pytest.raises(TypeError):
        DEFAULT_POLICIES["llm"] = POLICY  # type: ignore[index]


def test_policies_default_lookup() -> None:
    policies = Policies.default()
    for kind in OPERATION_KINDS:
        assert policies.for_node("any_node", kind) == DEFAULT_POLICIES[kind]


def test_policies_overrides_by_kind_node_and_node_kind() -> None:
    kind_wide = RetryPolicy(attempts=9)
    node_wide = RetryPolicy(attempts=2)
    exact = RetryPolicy(attempts=1)
    base = Policies.default()
    policies = (
        base.override(kind="llm", policy=kind_wide)
        .override(node="publish", policy=node_wide)
        .override(node="publish", kind="http", policy=exact)
    )
    assert policies.for_node("outline", "llm") == kind_wide
    assert policies.for_node("publish", "llm") == node_wide
    assert policies.for_node("publish", "http") == exact
    assert policies.for_node("outline", "http") == DEFAULT_POLICIES["http"]
    assert base == Policies.default()  # override returns a new value


def test_partial_kinds_fall_back_to_defaults() -> None:
    policies = Policies(kinds={"db": POLICY})
    assert policies.for_node("n", "db") == POLICY
    assert policies.for_node("n", "file") == DEFAULT_POLICIES["file"]


@pytest.mark.parametrize(
    "call",
    [
        lambda: Policies.default().override(policy=POLICY),
        lambda: Policies.default().override(kind="gpu", policy=POLICY),  # type: ignore[arg-type]
        lambda: Policies.default().override(node="n", policy="fast"),  # type: ignore[arg-type]
        lambda: Policies.default().for_node("n", "gpu"),  # type: ignore[arg-type]
        lambda: Policies(kinds={"gpu": POLICY}),  # type: ignore[dict-item]
        lambda: Policies(nodes={"n": POLICY}),  # type: ignore[dict-item]
    ],
)
def test_policies_validation(call: Any) -> None:
    with pytest.raises(ConfigurationError):
        call()
