"""The package's one error hierarchy.

Every error the package raises on purpose derives from :class:`DurableAgentError` and carries a
``hint``: one sentence telling the user what to do about it.
"""

from __future__ import annotations


class DurableAgentError(Exception):
    """Base class of every error raised by durable-agent-graph.

    Args:
        message: what went wrong, in one line.
        hint: what to do about it, in one line.
    """

    default_hint = ""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint if hint is not None else self.default_hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} ({self.hint})"
        return self.message


class ConfigurationError(DurableAgentError):
    """A setting or argument is malformed or missing."""

    default_hint = "check the argument or environment variable named in the message"
