"""Rules for the OpenAI SDK's exceptions (also raised by langchain-openai).

``openai`` is imported lazily: if it was never imported, no exception can come from it.
"""

from __future__ import annotations

import re
import sys
from typing import TYPE_CHECKING

from ._classification import Classification, Kind
from ._rules_http import classify_status

if TYPE_CHECKING:
    import openai

_QUOTA_CODES = frozenset({"insufficient_quota", "billing_hard_limit_reached", "billing_not_active"})
_CONTEXT_CODES = frozenset({"context_length_exceeded", "string_above_max_length"})
_FILTER_CODES = frozenset({"content_filter", "content_policy_violation"})
_RATE_CODES = frozenset({"rate_limit_exceeded"})
_SERVER_CODES = frozenset({"server_error", "internal_error", "service_unavailable"})
# OpenAI-compatible servers (vLLM, llama.cpp, proxies) often send the text without the code.
_CONTEXT_TEXT = re.compile(
    r"maximum context length|context[ _]length[ _]exceeded|context window", re.IGNORECASE
)


def _codes(exc: object) -> list[str]:
    """Provider error codes of an ``openai.APIError``: ``code``, ``type``, and the body's."""
    found: list[str] = []
    for value in (getattr(exc, "code", None), getattr(exc, "type", None)):
        if isinstance(value, str) and value:
            found.append(value)
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            for key in ("code", "type"):
                value = inner.get(key)
                if isinstance(value, str) and value and value not in found:
                    found.append(value)
    return found


def _first(codes: list[str], wanted: frozenset[str]) -> str | None:
    return next((code for code in codes if code in wanted), None)


def openai_rule(exc: BaseException) -> Classification | None:
    """Classify ``openai`` exceptions by type, HTTP status and provider error code."""
    if "openai" not in sys.modules:
        return None
    import openai

    if isinstance(exc, openai.LengthFinishReasonError):
        return Classification.from_exception(exc, "escalate", "output_truncated")
    if isinstance(exc, openai.ContentFilterFinishReasonError):
        return Classification.from_exception(exc, "escalate", "content_filtered")
    if isinstance(exc, openai.APITimeoutError):  # before APIConnectionError, its base
        return Classification.from_exception(exc, "retryable", "timeout")
    if isinstance(exc, openai.APIConnectionError):
        return Classification.from_exception(exc, "retryable", "connection")
    if isinstance(exc, openai.APIStatusError):
        return _status_error(exc)
    if isinstance(exc, openai.APIResponseValidationError):
        return Classification.from_exception(
            exc, "retryable", "server_error", status=exc.status_code
        )
    if isinstance(exc, openai.APIError):  # e.g. an error event in the middle of a stream
        return _coded_error(exc)
    return None


def _status_error(exc: openai.APIStatusError) -> Classification:
    status = exc.status_code
    codes = _codes(exc)
    if status == 429:
        quota = _first(codes, _QUOTA_CODES)
        if quota is not None:
            return Classification.from_exception(
                exc, "fatal", "quota_exhausted", status=status, code=quota
            )
    if status == 400:
        special = _bad_request(exc, codes, status)
        if special is not None:
            return special
    code = codes[0] if codes else None
    return classify_status(exc, status, exc.response.headers, source="openai", code=code)


def _bad_request(
    exc: openai.APIStatusError, codes: list[str], status: int
) -> Classification | None:
    context = _first(codes, _CONTEXT_CODES)
    if context is not None or _CONTEXT_TEXT.search(str(exc)):
        code = context if context is not None else (codes[0] if codes else None)
        return Classification.from_exception(
            exc, "escalate", "context_too_long", status=status, code=code
        )
    content = _first(codes, _FILTER_CODES)
    if content is not None:
        return Classification.from_exception(
            exc, "escalate", "content_filtered", status=status, code=content
        )
    return None


def _coded_error(exc: openai.APIError) -> Classification | None:
    codes = _codes(exc)
    table: tuple[tuple[frozenset[str], Kind, str], ...] = (
        (_QUOTA_CODES, "fatal", "quota_exhausted"),
        (_CONTEXT_CODES, "escalate", "context_too_long"),
        (_FILTER_CODES, "escalate", "content_filtered"),
        (_RATE_CODES, "retryable", "rate_limited"),
        (_SERVER_CODES, "retryable", "server_error"),
    )
    for wanted, kind, reason in table:
        code = _first(codes, wanted)
        if code is not None:
            return Classification.from_exception(exc, kind, reason, code=code)
    return None
