"""parse_retry_after: every header form a server may send."""

from __future__ import annotations

import email.utils

import httpx
import pytest

from policies import parse_retry_after

NOW = 1_700_000_000.0


def test_retry_after_ms_wins_over_retry_after() -> None:
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25


def test_retry_after_seconds() -> None:
    assert parse_retry_after({"Retry-After": "120"}) == 120.0
    assert parse_retry_after({"Retry-After": " 1.5 "}) == 1.5
    assert parse_retry_after({"Retry-After": "0"}) == 0.0


def test_retry_after_http_date_relative_to_now() -> None:
    header = email.utils.formatdate(NOW + 45, usegmt=True)
    assert parse_retry_after({"retry-after": header}, now=NOW) == pytest.approx(45.0)


def test_retry_after_date_in_the_past_means_now() -> None:
    header = email.utils.formatdate(NOW - 60, usegmt=True)
    assert parse_retry_after({"retry-after": header}, now=NOW) == 0.0


def test_retry_after_date_defaults_to_current_time() -> None:
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0


def test_header_names_are_case_insensitive_in_plain_dicts() -> None:
    assert parse_retry_after({"RETRY-AFTER-MS": "1000"}) == 1.0


def test_httpx_headers() -> None:
    assert parse_retry_after(httpx.Headers({"Retry-After-Ms": "20"})) == 0.02


@pytest.mark.parametrize(
    "headers",
    [
        None,
        {},
        {"content-type": "application/json"},
        {"retry-after": ""},
        {"retry-after": "soon"},
        {"retry-after": "-5"},
        {"retry-after": "nan"},
        {"retry-after": "inf"},
    ],
)
def test_missing_or_malformed_values_give_none(headers: dict[str, str] | None) -> None:
    assert parse_retry_after(headers, now=NOW) is None


def test_malformed_ms_falls_back_to_retry_after() -> None:
    assert parse_retry_after({"retry-after-ms": "abc", "retry-after": "3"}) == 3.0
    assert parse_retry_after({"retry-after-ms": "-1", "retry-after": "3"}) == 3.0
