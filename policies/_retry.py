"""Retry policies and the pure retry decision."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal, get_args

import tenacity

from ._classification import Classification
from ._errors import ConfigurationError

OperationKind = Literal["llm", "http", "db", "file", "tool"]
"""The kinds of operation a node performs; each has its own default retry policy."""

OPERATION_KINDS: tuple[OperationKind, ...] = get_args(OperationKind)

Action = Literal["retry", "dead_letter", "escalate"]

# tenacity's wait strategies read the attempt number from a call state; one shared, unused
# Retrying object is enough to build such states (nothing here ever sleeps or calls).
_RETRYING = tenacity.Retrying()


def _number(name: str, value: object, *, minimum: float, inclusive: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigurationError(f"{name} must be a number, got {value!r}")
    number = float(value)
    too_small = number < minimum if inclusive else number <= minimum
    if not math.isfinite(number) or too_small:
        bound = f">= {minimum:g}" if inclusive else f"> {minimum:g}"
        raise ConfigurationError(f"{name} must be a finite number {bound}, got {value!r}")
    return number


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry one kind of operation.

    The n-th retry waits ``min(cap, initial * multiplier ** (n - 1))`` seconds, minus jitter:
    ``jitter`` is a *fraction* of that delay removed at random, so with ``jitter=0.2`` the wait
    is uniform in ``(0.8 * d, d]``. The cap is therefore never exceeded, and clients that failed
    together spread out. A server's Retry-After replaces the backoff (no jitter), capped at
    ``retry_after_cap``.

    Attributes:
        attempts: total attempts including the first (1 means never retry).
        initial: delay before the first retry, seconds.
        multiplier: growth factor of the delay per retry (1.0 = constant delay).
        cap: largest backoff delay, seconds.
        jitter: fraction in [0, 1] of each backoff delay removed at random.
        deadline: total seconds allowed from the first attempt; a retry whose wait would end
            later is not made. ``None`` = no deadline.
        retry_after_cap: largest wait honoured from a Retry-After header, seconds.

    Raises:
        ConfigurationError: a field is out of range (the message names it).
    """

    attempts: int = 3
    initial: float = 1.0
    multiplier: float = 2.0
    cap: float = 30.0
    jitter: float = 0.2
    deadline: float | None = None
    retry_after_cap: float = 60.0

    def __post_init__(self) -> None:
        if isinstance(self.attempts, bool) or not isinstance(self.attempts, int):
            raise ConfigurationError(f"attempts must be an integer, got {self.attempts!r}")
        if self.attempts < 1:
            raise ConfigurationError(
                f"attempts must be >= 1 (1 means no retry), got {self.attempts}"
            )
        initial = _number("initial", self.initial, minimum=0.0)
        multiplier = _number("multiplier", self.multiplier, minimum=1.0)
        cap = _number("cap", self.cap, minimum=0.0)
        if cap < initial:
            raise ConfigurationError(f"cap ({cap:g}) must be >= initial ({initial:g})")
        jitter = _number("jitter", self.jitter, minimum=0.0)
        if jitter > 1.0:
            raise ConfigurationError(
                f"jitter is a fraction of the delay and must be <= 1, got {self.jitter!r}"
            )
        retry_after_cap = _number("retry_after_cap", self.retry_after_cap, minimum=0.0)
        for name, value in (
            ("initial", initial),
            ("multiplier", multiplier),
            ("cap", cap),
            ("jitter", jitter),
            ("retry_after_cap", retry_after_cap),
        ):
            object.__setattr__(self, name, value)
        if self.deadline is not None:
            deadline = _number("deadline", self.deadline, minimum=0.0, inclusive=False)
            object.__setattr__(self, "deadline", deadline)

    def backoff(self, attempt: int, *, random: float) -> float:
        """Return the wait after failed attempt number ``attempt`` (1-based), jitter applied.

        Args:
            attempt: the attempt that just failed (1 = the first try).
            random: a number in [0, 1) chosen by the caller; 0 means no jitter taken off.

        Raises:
            ConfigurationError: ``attempt`` < 1 or ``random`` outside [0, 1).
        """
        _check_attempt(attempt)
        _check_random(random)
        state = tenacity.RetryCallState(retry_object=_RETRYING, fn=None, args=(), kwargs={})
        state.attempt_number = attempt
        wait = tenacity.wait_exponential(
            multiplier=self.initial, exp_base=self.multiplier, max=self.cap
        )
        base = min(float(wait(state)), self.cap)
        return base * (1.0 - self.jitter * random)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict of every field."""
        return {
            "attempts": self.attempts,
            "initial": self.initial,
            "multiplier": self.multiplier,
            "cap": self.cap,
            "jitter": self.jitter,
            "deadline": self.deadline,
            "retry_after_cap": self.retry_after_cap,
        }


DEFAULT_POLICIES: Mapping[OperationKind, RetryPolicy] = MappingProxyType(
    {
        # Rate limits and overloaded providers clear in seconds to a minute.
        "llm": RetryPolicy(
            attempts=6, initial=1.0, cap=60.0, jitter=0.2, deadline=900.0, retry_after_cap=120.0
        ),
        "http": RetryPolicy(
            attempts=5, initial=0.5, cap=30.0, jitter=0.2, deadline=300.0, retry_after_cap=60.0
        ),
        # Serialization failures and deadlocks clear almost at once; failovers take seconds.
        "db": RetryPolicy(
            attempts=5, initial=0.1, cap=5.0, jitter=0.5, deadline=60.0, retry_after_cap=5.0
        ),
        "file": RetryPolicy(
            attempts=3, initial=0.2, cap=2.0, jitter=0.2, deadline=30.0, retry_after_cap=2.0
        ),
        "tool": RetryPolicy(
            attempts=3, initial=1.0, cap=10.0, jitter=0.2, deadline=120.0, retry_after_cap=60.0
        ),
    }
)
"""Default retry policy of each operation kind."""


@dataclass(frozen=True)
class Decision:
    """What to do after a failed attempt.

    Attributes:
        action: ``retry`` (after ``delay``), ``dead_letter`` or ``escalate``.
        delay: seconds to wait before retrying; 0 unless ``action`` is ``retry``.
        why: one line for people and logs, e.g. ``attempts exhausted: 6 of 6 (rate_limited)``.
    """

    action: Action
    delay: float
    why: str

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict of every field."""
        return {"action": self.action, "delay": self.delay, "why": self.why}


def _check_attempt(attempt: int) -> None:
    if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 1:
        raise ConfigurationError(f"attempt is 1-based and must be an integer >= 1, got {attempt!r}")


def _check_random(random: float) -> None:
    if not (isinstance(random, int | float) and 0.0 <= random < 1.0):
        raise ConfigurationError(f"random must be a number in [0, 1), got {random!r}")


def decide(
    classification: Classification,
    *,
    attempt: int,
    elapsed: float,
    policy: RetryPolicy,
    random: float,
) -> Decision:
    """Decide what happens after a failed attempt. Pure: same inputs, same decision.

    Fatal errors are dead-lettered and escalations escalated at once. A retryable error is
    retried after the server's Retry-After (capped at ``policy.retry_after_cap``) or else the
    policy's jittered backoff - unless the attempts are used up or the wait would end past the
    policy's deadline, in which case it is dead-lettered.

    Args:
        classification: the failure, from :func:`classify`.
        attempt: 1-based number of the attempt that just failed.
        elapsed: seconds since the first attempt started.
        policy: the retry policy of the operation.
        random: a number in [0, 1) supplied by the caller, used for jitter.

    Returns:
        The :class:`Decision`.

    Raises:
        ConfigurationError: ``attempt`` < 1, ``elapsed`` negative, or ``random`` outside [0, 1).
    """
    _check_attempt(attempt)
    _check_random(random)
    _number("elapsed", elapsed, minimum=0.0)
    reason = classification.reason
    if classification.kind == "fatal":
        return Decision("dead_letter", 0.0, f"fatal: {reason}")
    if classification.kind == "escalate":
        return Decision("escalate", 0.0, f"escalate: {reason}")
    if attempt >= policy.attempts:
        return Decision(
            "dead_letter", 0.0, f"attempts exhausted: {attempt} of {policy.attempts} ({reason})"
        )
    if classification.retry_after is not None:
        delay = min(classification.retry_after, policy.retry_after_cap)
        why = f"retry: {reason}, Retry-After {classification.retry_after:g}s"
        if delay < classification.retry_after:
            why += f" capped at {delay:g}s"
    else:
        delay = policy.backoff(attempt, random=random)
        why = f"retry: {reason}, backoff {delay:.3g}s after attempt {attempt}"
    if policy.deadline is not None and elapsed + delay > policy.deadline:
        return Decision(
            "dead_letter",
            0.0,
            f"deadline exceeded: {elapsed:.3g}s elapsed + {delay:.3g}s wait > "
            f"{policy.deadline:g}s ({reason})",
        )
    return Decision("retry", delay, why)
