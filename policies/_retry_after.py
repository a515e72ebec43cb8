"""Reading the Retry-After / retry-after-ms response headers."""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Mapping
from datetime import UTC


def _non_negative_float(value: str) -> float | None:
    try:
        number = float(value.strip())
    except ValueError:
        return None
    if not math.isfinite(number) or number < 0:
        return None
    return number


def _http_date_delay(value: str, now: float) -> float | None:
    try:
        when = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; a naive result means "-0000"
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


def parse_retry_after(
    headers: Mapping[str, str] | None, *, now: float | None = None
) -> float | None:
    """Return how many seconds a server asked the client to wait, or ``None``.

    ``retry-after-ms`` (milliseconds, sent by OpenAI and Azure) wins over ``retry-after``, which
    is read as a number of seconds or as an HTTP date. A date in the past gives ``0.0``.
    Header names are matched case-insensitively; malformed, negative or infinite values are
    ignored.

    Args:
        headers: response headers (``httpx.Headers``, ``requests`` headers or a plain dict).
        now: the current time as a UNIX timestamp, to turn an HTTP date into a delay;
            defaults to ``time.time()``.

    Returns:
        The delay in seconds, or ``None`` when no usable header is present.
    """
    if not headers:
        return None
    lowered = {str(name).lower(): value for name, value in headers.items()}
    milliseconds = lowered.get("retry-after-ms")
    if isinstance(milliseconds, str):
        parsed = _non_negative_float(milliseconds)
        if parsed is not None:
            return parsed / 1000.0
    value = lowered.get("retry-after")
    if not isinstance(value, str) or not value.strip():
        return None
    seconds = _non_negative_float(value)
    if seconds is not None:
        return seconds
    return _http_date_delay(value, time.time() if now is None else now)
