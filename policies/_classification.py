"""The verdict on one failure: :class:`Classification`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from ._errors import ConfigurationError
from ._redact import redact

Kind = Literal["retryable", "fatal", "escalate"]
"""What should happen to the failed operation: try again, give up, or ask a person."""

KINDS: frozenset[str] = frozenset(get_args(Kind))

REASONS: frozenset[str] = frozenset(
    {
        "rate_limited",
        "quota_exhausted",
        "context_too_long",
        "server_error",
        "timeout",
        "connection",
        "bad_request",
        "auth",
        "not_found",
        "conflict",
        "content_filtered",
        "output_truncated",
        "disk_full",
        "os_error",
        "database",
        "integrity",
        "bug",
        "user_retryable",
        "user_fatal",
        "user_escalate",
        "unknown",
    }
)
"""The reasons the built-in rules produce. User rules may use reasons of their own."""

MAX_MESSAGE_CHARS = 500
_ELLIPSIS = "..."


def error_type_name(exc: BaseException) -> str:
    """Return the qualified class name of ``exc`` (``builtins.`` left out)."""
    cls = type(exc)
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


def exception_message(exc: BaseException) -> str:
    """Return the human message of ``exc``, without the hint of our own errors."""
    message = getattr(exc, "message", None)
    if isinstance(message, str) and message:
        return message
    try:
        return str(exc)
    except Exception:  # a broken __str__ must not break classification
        return repr(exc)


def _clean_message(text: str) -> str:
    # Redact before truncating so that a cut cannot leave half a secret unrecognised.
    text = redact(text)
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[: MAX_MESSAGE_CHARS - len(_ELLIPSIS)] + _ELLIPSIS
    return text


@dataclass(frozen=True)
class Classification:
    """What kind of failure an exception is, and why.

    Attributes:
        kind: ``retryable``, ``fatal`` or ``escalate``.
        reason: machine-readable cause, e.g. ``rate_limited`` (see :data:`REASONS`).
        retry_after: seconds the server asked us to wait, if it said so.
        status: HTTP status code, when the failure was an HTTP response.
        code: provider error code (e.g. ``insufficient_quota``) or SQLSTATE (e.g. ``40001``).
        error_type: qualified class name of the exception.
        message: the exception message, secrets redacted, at most 500 characters. Redaction and
            truncation are applied on construction, whoever builds the value.

    Raises:
        ConfigurationError: ``kind`` is not one of the three kinds, ``reason`` is empty, or
            ``retry_after`` is negative or not finite.
    """

    kind: Kind
    reason: str
    retry_after: float | None = None
    status: int | None = None
    code: str | None = None
    error_type: str = ""
    message: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigurationError(
                f"classification kind must be one of {sorted(KINDS)}, got {self.kind!r}"
            )
        if not isinstance(self.reason, str) or not self.reason:
            raise ConfigurationError(
                f"classification reason must be a non-empty string, got {self.reason!r}"
            )
        if self.retry_after is not None:
            value = float(self.retry_after)
            if not math.isfinite(value) or value < 0:
                raise ConfigurationError(
                    f"retry_after must be a finite number of seconds >= 0, got {self.retry_after!r}"
                )
            object.__setattr__(self, "retry_after", value)
        object.__setattr__(self, "message", _clean_message(str(self.message)))

    @classmethod
    def from_exception(
        cls,
        exc: BaseException,
        kind: Kind,
        reason: str,
        *,
        retry_after: float | None = None,
        status: int | None = None,
        code: str | None = None,
    ) -> Classification:
        """Build a classification of ``exc``, filling ``error_type`` and ``message`` from it.

        This is the building block for custom rules.
        """
        return cls(
            kind=kind,
            reason=reason,
            retry_after=retry_after,
            status=status,
            code=code,
            error_type=error_type_name(exc),
            message=exception_message(exc),
        )

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict of every field."""
        return {
            "kind": self.kind,
            "reason": self.reason,
            "retry_after": self.retry_after,
            "status": self.status,
            "code": self.code,
            "error_type": self.error_type,
            "message": self.message,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Classification:
        """Rebuild a classification from :meth:`to_dict` output (e.g. read back from storage).

        Raises:
            ConfigurationError: a required key is missing or a value is invalid.
        """
        try:
            return cls(
                kind=data["kind"],
                reason=data["reason"],
                retry_after=data.get("retry_after"),
                status=data.get("status"),
                code=data.get("code"),
                error_type=data.get("error_type", ""),
                message=data.get("message", ""),
            )
        except KeyError as exc:
            raise ConfigurationError(f"classification dict lacks the key {exc.args[0]!r}") from None
