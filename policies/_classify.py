"""The classifier: an ordered tuple of rules, plus unwrapping of chained and grouped errors."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ._classification import Classification, exception_message
from ._errors import ConfigurationError
from ._rules import Rule
from ._rules_builtin import bug_rule, network_rule, os_rule, signal_rule
from ._rules_http import httpx_rule, requests_rule
from ._rules_openai import openai_rule
from ._rules_psycopg import psycopg_rule

DEFAULT_RULES: tuple[Rule, ...] = (
    signal_rule,
    openai_rule,
    psycopg_rule,
    httpx_rule,
    requests_rule,  # requests errors are OSErrors: before os_rule
    network_rule,  # ConnectionError/TimeoutError are OSErrors: before os_rule
    os_rule,
    bug_rule,
)
"""The built-in rules, in the order they are tried."""

_MAX_DEPTH = 16
# For exception groups: the sub-error that decides. A fatal error anywhere is fatal for all.
_SEVERITY = {"fatal": 3, "escalate": 2, "retryable": 1}


@dataclass(frozen=True)
class Classifier:
    """Classifies exceptions by trying ``rules`` in order; the first answer wins.

    When no rule answers, the error is ``retryable``/``unknown``. An unrecognised error that
    was raised ``from`` a recognised one (``raise Wrapper(...) from cause``, as libraries do
    when they wrap driver errors) is classified by its cause. An exception group is classified
    by its most severe member (fatal > escalate > retryable).

    Attributes:
        rules: the rules, tried first to last.
    """

    rules: tuple[Rule, ...] = DEFAULT_RULES

    def __post_init__(self) -> None:
        if not isinstance(self.rules, tuple) or not all(callable(r) for r in self.rules):
            raise ConfigurationError("Classifier.rules must be a tuple of callables")

    @classmethod
    def default(cls) -> Classifier:
        """Return the classifier with the built-in rules only."""
        return cls(rules=DEFAULT_RULES)

    def with_rules(self, *rules: Rule) -> Classifier:
        """Return a new classifier that tries ``rules`` (in the given order) before its own.

        Args:
            rules: callables ``(BaseException) -> Classification | None``, e.g. from
                :func:`rule`.

        Raises:
            ConfigurationError: a rule is not callable.
        """
        return Classifier(rules=(*rules, *self.rules))

    def classify(self, exc: BaseException) -> Classification:
        """Classify ``exc``.

        Args:
            exc: the exception that ended an attempt.

        Returns:
            The classification of ``exc`` (or of the cause or group member that decides).

        Raises:
            Whatever a custom rule raises; the built-in rules never raise.
        """
        return self._classify(exc, depth=0, seen=set())

    def _classify(self, exc: BaseException, *, depth: int, seen: set[int]) -> Classification:
        seen.add(id(exc))
        for current in self.rules:
            found = current(exc)
            if found is not None:
                return found
        if depth < _MAX_DEPTH:
            if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
                return self._classify_group(exc, depth=depth, seen=seen)
            cause = exc.__cause__
            if cause is not None and id(cause) not in seen:
                inner = self._classify(cause, depth=depth + 1, seen=seen)
                if inner.reason != "unknown":
                    return _wrapped(exc, inner)
        return Classification.from_exception(exc, "retryable", "unknown")

    def _classify_group(
        self, group: BaseExceptionGroup[BaseException], *, depth: int, seen: set[int]
    ) -> Classification:
        members = [
            self._classify(member, depth=depth + 1, seen=seen)
            for member in group.exceptions
            if id(member) not in seen
        ]
        if not members:
            return Classification.from_exception(group, "retryable", "unknown")
        # Most severe kind first; among retryables a known reason beats "unknown", and the
        # longest Retry-After is honoured so that no member is retried too early.
        return max(
            members,
            key=lambda c: (
                _SEVERITY[c.kind],
                c.reason != "unknown",
                c.retry_after if c.retry_after is not None else -1.0,
            ),
        )


def _wrapped(outer: BaseException, inner: Classification) -> Classification:
    """The cause's classification, with the wrapper's message kept in front when it adds one."""
    outer_message = exception_message(outer)
    if outer_message and inner.message not in outer_message:
        message = f"{outer_message}: {inner.message}"
    elif outer_message:
        message = outer_message
    else:
        message = inner.message
    return dataclasses.replace(inner, message=message)


_DEFAULT = Classifier()


def classify(exc: BaseException) -> Classification:
    """Classify ``exc`` with the built-in rules (see :meth:`Classifier.classify`).

    Args:
        exc: the exception that ended an attempt.

    Returns:
        A :class:`Classification`; ``retryable``/``unknown`` when nothing matches.
    """
    return _DEFAULT.classify(exc)
