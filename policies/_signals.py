"""Exceptions user code raises to say what should happen, overriding the classifier's guess."""

from __future__ import annotations

import math

from ._errors import ConfigurationError, DurableAgentError


class Retryable(DurableAgentError):
    """Raise from a node or tool to ask for a retry under the node's retry policy.

    Args:
        message: what went wrong.
        retry_after: seconds to wait before the next attempt; ``None`` uses the policy's backoff.
        hint: what to do about it, if the default does not fit.

    Raises:
        ConfigurationError: ``retry_after`` is negative or not finite.
    """

    default_hint = "it will be retried according to the node's retry policy"

    def __init__(
        self, message: str, *, retry_after: float | None = None, hint: str | None = None
    ) -> None:
        if retry_after is not None and (not math.isfinite(retry_after) or retry_after < 0):
            raise ConfigurationError(
                f"Retryable(retry_after=...) must be finite and >= 0, got {retry_after!r}"
            )
        super().__init__(message, hint=hint)
        self.retry_after = retry_after


class Fatal(DurableAgentError):
    """Raise from a node or tool to stop retrying: the thread is dead-lettered.

    Args:
        message: what went wrong.
        hint: what to do about it, if the default does not fit.
    """

    default_hint = "fix the cause, then redrive the thread from the dead-letter queue"


class Escalate(DurableAgentError):
    """Raise from a node or tool to hand the thread to a person (a human interrupt).

    Args:
        message: what a person has to look at.
        hint: what to do about it, if the default does not fit.
    """

    default_hint = "a person must review the thread, then resume it"
