"""Budgets and check_budget()."""

from __future__ import annotations

from typing import Any

import pytest

from policies import Budget, BudgetVerdict, ConfigurationError, check_budget


def test_within_budget_gives_none() -> None:
    budget = Budget(max_wall_seconds=60, max_tokens=1000, max_usd=1.0)
    assert check_budget(budget, recoveries=3, wall_seconds=60, tokens=1000, usd=1.0) is None


def test_recoveries_default_allows_three() -> None:
    budget = Budget()
    assert budget.max_recoveries == 3
    assert check_budget(budget, recoveries=3) is None
    verdict = check_budget(budget, recoveries=4)
    assert verdict == BudgetVerdict(
        exceeded="recoveries",
        limit=3.0,
        used=4.0,
        action="dead_letter",
        why="budget exceeded: recoveries 4 > 3",
    )


@pytest.mark.parametrize(
    ("usage", "exceeded"),
    [
        ({"wall_seconds": 61.0}, "wall_seconds"),
        ({"tokens": 1001}, "tokens"),
        ({"usd": 1.01}, "usd"),
    ],
)
def test_each_limit_is_named(usage: dict[str, Any], exceeded: str) -> None:
    budget = Budget(max_wall_seconds=60, max_tokens=1000, max_usd=1.0)
    verdict = check_budget(budget, **usage)
    assert verdict is not None
    assert verdict.exceeded == exceeded


def test_next_call_cost_counts_before_it_is_spent() -> None:
    budget = Budget(max_usd=1.0)
    assert check_budget(budget, usd=0.9, next_cost_usd=0.1) is None
    verdict = check_budget(budget, usd=0.9, next_cost_usd=0.2)
    assert verdict is not None
    assert verdict.exceeded == "usd"
    assert verdict.used == pytest.approx(1.1)


def test_first_limit_in_order_is_reported() -> None:
    budget = Budget(max_recoveries=0, max_tokens=1)
    verdict = check_budget(budget, recoveries=1, tokens=5)
    assert verdict is not None
    assert verdict.exceeded == "recoveries"


def test_unlimited_when_none() -> None:
    assert check_budget(Budget(), wall_seconds=1e9, tokens=10**12, usd=1e6) is None


def test_escalate_on_exceeded() -> None:
    verdict = check_budget(Budget(max_tokens=10, on_exceeded="escalate"), tokens=11)
    assert verdict is not None
    assert verdict.action == "escalate"
    assert verdict.to_dict()["exceeded"] == "tokens"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_recoveries": -1},
        {"max_recoveries": 1.5},
        {"max_tokens": 2.5},
        {"max_wall_seconds": -1.0},
        {"max_usd": float("nan")},
        {"on_exceeded": "ignore"},
    ],
)
def test_budget_validation(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        Budget(**kwargs)


def test_usage_validation() -> None:
    with pytest.raises(ConfigurationError):
        check_budget(Budget(), tokens=-1)
