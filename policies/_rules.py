"""Classification rules: callables that recognise some exceptions and classify them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeAlias

from ._classification import KINDS, Classification, Kind
from ._errors import ConfigurationError

Rule: TypeAlias = Callable[[BaseException], Classification | None]
"""A rule returns a :class:`Classification` for exceptions it recognises, ``None`` otherwise."""

ExceptionTypes: TypeAlias = type[BaseException] | tuple[type[BaseException], ...]


@dataclass(frozen=True)
class TypeRule:
    """A rule matching exceptions by class (``isinstance``), built by :func:`rule`."""

    types: tuple[type[BaseException], ...]
    kind: Kind
    reason: str
    retry_after: float | None = None
    when: Callable[[BaseException], bool] | None = None

    def __call__(self, exc: BaseException) -> Classification | None:
        """Classify ``exc`` if it is an instance of one of ``types`` (and ``when`` agrees)."""
        if not isinstance(exc, self.types):
            return None
        if self.when is not None and not self.when(exc):
            return None
        return Classification.from_exception(
            exc, self.kind, self.reason, retry_after=self.retry_after
        )


def rule(
    exc_type_or_tuple: ExceptionTypes,
    kind: Kind,
    reason: str,
    *,
    retry_after: float | None = None,
    when: Callable[[BaseException], bool] | None = None,
) -> TypeRule:
    """Build a rule classifying instances of the given exception class(es).

    Example: ``Classifier.default().with_rules(rule(MyTimeout, "retryable", "timeout"))``.

    Args:
        exc_type_or_tuple: an exception class or a tuple of them (subclasses match too).
        kind: ``retryable``, ``fatal`` or ``escalate``.
        reason: machine-readable reason stored in the classification.
        retry_after: fixed delay in seconds to ask for, or ``None`` for the policy's backoff.
        when: optional extra predicate on the exception (e.g. look at an attribute).

    Raises:
        ConfigurationError: a type is not an exception class, or kind/reason/retry_after is
            invalid.
    """
    types = exc_type_or_tuple if isinstance(exc_type_or_tuple, tuple) else (exc_type_or_tuple,)
    if not types or not all(isinstance(t, type) and issubclass(t, BaseException) for t in types):
        raise ConfigurationError(
            f"rule() needs an exception class or a tuple of them, got {exc_type_or_tuple!r}"
        )
    if kind not in KINDS:
        raise ConfigurationError(f"rule() kind must be one of {sorted(KINDS)}, got {kind!r}")
    # Building a throw-away value runs the same checks a real classification would.
    Classification(kind=kind, reason=reason, retry_after=retry_after)
    return TypeRule(types=types, kind=kind, reason=reason, retry_after=retry_after, when=when)
