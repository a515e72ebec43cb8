"""Budgets: limits on a thread across attempts and restarts, and the check against them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from ._errors import ConfigurationError

BudgetLimit = Literal["recoveries", "wall_seconds", "tokens", "usd"]


def _optional_limit(name: str, value: float | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigurationError(f"{name} must be a number or None, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ConfigurationError(f"{name} must be a finite number >= 0 or None, got {value!r}")


def _usage(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigurationError(f"{name} must be a number, got {value!r}")
    if math.isnan(value) or value < 0:
        raise ConfigurationError(f"{name} must be >= 0, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Budget:
    """Limits on one thread, counted across attempts and worker restarts.

    Attributes:
        max_recoveries: crash recoveries allowed before the thread is dead-lettered (a thread
            whose worker keeps dying must not loop forever).
        max_wall_seconds: wall-clock seconds from the thread's start; ``None`` = unlimited.
        max_tokens: LLM tokens (prompt + completion); ``None`` = unlimited.
        max_usd: spend in US dollars; ``None`` = unlimited.
        on_exceeded: what happens when a limit is passed: ``dead_letter`` (default) or
            ``escalate`` (a person may raise the budget and resume).

    Raises:
        ConfigurationError: a limit is negative or not a number.
    """

    max_recoveries: int = 3
    max_wall_seconds: float | None = None
    max_tokens: int | None = None
    max_usd: float | None = None
    on_exceeded: Literal["dead_letter", "escalate"] = "dead_letter"

    def __post_init__(self) -> None:
        if (
            isinstance(self.max_recoveries, bool)
            or not isinstance(self.max_recoveries, int)
            or self.max_recoveries < 0
        ):
            raise ConfigurationError(
                f"max_recoveries must be an integer >= 0, got {self.max_recoveries!r}"
            )
        if self.max_tokens is not None and (
            isinstance(self.max_tokens, bool) or not isinstance(self.max_tokens, int)
        ):
            raise ConfigurationError(
                f"max_tokens must be an integer or None, got {self.max_tokens!r}"
            )
        _optional_limit("max_tokens", self.max_tokens)
        _optional_limit("max_wall_seconds", self.max_wall_seconds)
        _optional_limit("max_usd", self.max_usd)
        if self.on_exceeded not in ("dead_letter", "escalate"):
            raise ConfigurationError(
                f"on_exceeded must be 'dead_letter' or 'escalate', got {self.on_exceeded!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict of every field."""
        return {
            "max_recoveries": self.max_recoveries,
            "max_wall_seconds": self.max_wall_seconds,
            "max_tokens": self.max_tokens,
            "max_usd": self.max_usd,
            "on_exceeded": self.on_exceeded,
        }


@dataclass(frozen=True)
class BudgetVerdict:
    """A budget limit that was passed.

    Attributes:
        exceeded: which limit: ``recoveries``, ``wall_seconds``, ``tokens`` or ``usd``.
        limit: the limit's value.
        used: the amount used (for ``usd``, including the next call's cost).
        action: ``dead_letter`` or ``escalate`` (from :attr:`Budget.on_exceeded`).
        why: one line for people and logs.
    """

    exceeded: BudgetLimit
    limit: float
    used: float
    action: Literal["dead_letter", "escalate"]
    why: str

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict of every field."""
        return {
            "exceeded": self.exceeded,
            "limit": self.limit,
            "used": self.used,
            "action": self.action,
            "why": self.why,
        }


def check_budget(
    budget: Budget,
    *,
    recoveries: int = 0,
    wall_seconds: float = 0.0,
    tokens: int = 0,
    usd: float = 0.0,
    next_cost_usd: float = 0.0,
) -> BudgetVerdict | None:
    """Check a thread's usage against its budget. Pure.

    A limit is passed when usage goes *over* it (``max_recoveries=3`` allows three recoveries
    and stops the fourth). Spend is checked as ``usd + next_cost_usd`` so that a call that would
    overrun the budget is refused before it is made. Limits are checked in the order recoveries,
    wall time, tokens, dollars, and the first one passed is reported.

    Args:
        budget: the limits.
        recoveries: crash recoveries so far, counting the one about to start.
        wall_seconds: seconds since the thread started.
        tokens: tokens used so far.
        usd: dollars spent so far.
        next_cost_usd: estimated cost of the next call, if known.

    Returns:
        ``None`` while within budget, else a :class:`BudgetVerdict` naming the limit passed.

    Raises:
        ConfigurationError: a usage value is negative or not a number.
    """
    used_recoveries = _usage("recoveries", recoveries)
    used_wall = _usage("wall_seconds", wall_seconds)
    used_tokens = _usage("tokens", tokens)
    used_usd = _usage("usd", usd) + _usage("next_cost_usd", next_cost_usd)
    checks: tuple[tuple[BudgetLimit, float | None, float], ...] = (
        ("recoveries", budget.max_recoveries, used_recoveries),
        ("wall_seconds", budget.max_wall_seconds, used_wall),
        ("tokens", budget.max_tokens, used_tokens),
        ("usd", budget.max_usd, used_usd),
    )
    for name, limit, used in checks:
        if limit is not None and used > limit:
            return BudgetVerdict(
                exceeded=name,
                limit=float(limit),
                used=used,
                action=budget.on_exceeded,
                why=f"budget exceeded: {name} {used:g} > {float(limit):g}",
            )
    return None
