"""Decisions about failure: pure code, no I/O.

- :func:`classify` / :class:`Classifier` turn an exception into a :class:`Classification`
  (``retryable``, ``fatal`` or ``escalate``, with a reason and the server's Retry-After).
- :class:`RetryPolicy` / :class:`Policies` say how patiently each operation is retried, and
  :func:`decide` turns a classification into a :class:`Decision` (retry after a delay,
  dead-letter, or escalate to a person).
- :class:`Budget` / :func:`check_budget` bound a thread across attempts and restarts.
- :class:`Retryable`, :class:`Fatal`, :class:`Escalate` let user code say what it wants.
- :func:`redact` removes secrets from any text before it is stored or logged.
"""

from ._budget import Budget, BudgetLimit, BudgetVerdict, check_budget
from ._classification import REASONS, Classification, Kind
from ._classify import DEFAULT_RULES, Classifier, classify
from ._errors import ConfigurationError, DurableAgentError
from ._policies import Policies
from ._redact import redact
from ._retry import (
    DEFAULT_POLICIES,
    OPERATION_KINDS,
    Action,
    Decision,
    OperationKind,
    RetryPolicy,
    decide,
)
from ._retry_after import parse_retry_after
from ._rules import Rule, TypeRule, rule
from ._signals import Escalate, Fatal, Retryable

__all__ = [
    "DEFAULT_POLICIES",
    "DEFAULT_RULES",
    "OPERATION_KINDS",
    "REASONS",
    "Action",
    "Budget",
    "BudgetLimit",
    "BudgetVerdict",
    "Classification",
    "Classifier",
    "ConfigurationError",
    "Decision",
    "DurableAgentError",
    "Escalate",
    "Fatal",
    "Kind",
    "OperationKind",
    "Policies",
    "RetryPolicy",
    "Retryable",
    "Rule",
    "TypeRule",
    "check_budget",
    "classify",
    "decide",
    "parse_retry_after",
    "redact",
    "rule",
]
