"""Rules for HTTP client errors: httpx (and its fork httpx2, used by openai) and requests.

The classes are recognised by module and class name along the exception's MRO, so ``requests``
(optional) and ``httpx2`` are never imported here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from ._classification import Classification
from ._retry_after import parse_retry_after

Source = Literal["openai", "http"]

_HTTPX_MODULES = frozenset({"httpx", "httpx2"})


def _mro_names(exc: BaseException, modules: frozenset[str]) -> set[str]:
    """Class names (without module) along ``type(exc).__mro__`` defined in ``modules``."""
    names: set[str] = set()
    for cls in type(exc).__mro__:
        top = cls.__module__.split(".", 1)[0]
        if top in modules:
            names.add(cls.__name__)
    return names


def _response_parts(exc: BaseException) -> tuple[int | None, Mapping[str, str] | None]:
    response = getattr(exc, "response", None)
    if response is None:
        return None, None
    status = getattr(response, "status_code", None)
    headers = getattr(response, "headers", None)
    return (
        status if isinstance(status, int) else None,
        headers if isinstance(headers, Mapping) else None,
    )


def classify_status(
    exc: BaseException,
    status: int,
    headers: Mapping[str, str] | None,
    *,
    source: Source,
    code: str | None = None,
) -> Classification:
    """Classify an HTTP error response by status code.

    408, 429 and 5xx are retryable (honouring Retry-After); other statuses are fatal. For the
    OpenAI API (``source="openai"``) 409 is retryable too, as the API documents it as a
    transient conflict; the caller handles the OpenAI-specific codes before calling this.
    """

    def retryable(reason: str) -> Classification:
        return Classification.from_exception(
            exc,
            "retryable",
            reason,
            retry_after=parse_retry_after(headers),
            status=status,
            code=code,
        )

    def fatal(reason: str) -> Classification:
        return Classification.from_exception(exc, "fatal", reason, status=status, code=code)

    if status == 408:
        return retryable("timeout")
    if status == 429:
        return retryable("rate_limited")
    if status >= 500:
        return retryable("server_error")
    if status == 409:
        return retryable("conflict") if source == "openai" else fatal("conflict")
    if status in (401, 403):
        return fatal("auth")
    if status == 404:
        return fatal("not_found")
    return fatal("bad_request")


def httpx_rule(exc: BaseException) -> Classification | None:
    """``httpx`` / ``httpx2`` errors: status errors by status, transport errors retryable."""
    names = _mro_names(exc, _HTTPX_MODULES)
    if not names:
        return None
    if "HTTPStatusError" in names:
        status, headers = _response_parts(exc)
        if status is not None:
            return classify_status(exc, status, headers, source="http")
        return Classification.from_exception(exc, "retryable", "unknown")
    if "TimeoutException" in names:
        return Classification.from_exception(exc, "retryable", "timeout")
    if "UnsupportedProtocol" in names or "InvalidURL" in names:
        return Classification.from_exception(exc, "fatal", "bad_request")
    if "TransportError" in names:  # connect/read/write/close, protocol and proxy errors
        return Classification.from_exception(exc, "retryable", "connection")
    if "TooManyRedirects" in names:
        return Classification.from_exception(exc, "fatal", "bad_request")
    return None


def requests_rule(exc: BaseException) -> Classification | None:
    """``requests`` errors (all ``OSError`` subclasses: this must run before the OS rule)."""
    names = _mro_names(exc, frozenset({"requests"}))
    if "RequestException" not in names:
        return None
    if "HTTPError" in names:
        status, headers = _response_parts(exc)
        if status is not None:
            return classify_status(exc, status, headers, source="http")
        return Classification.from_exception(exc, "retryable", "unknown")
    if "Timeout" in names:  # before ConnectionError: ConnectTimeout is both
        return Classification.from_exception(exc, "retryable", "timeout")
    if names & {"ConnectionError", "ChunkedEncodingError", "ContentDecodingError"}:
        return Classification.from_exception(exc, "retryable", "connection")
    if names & {"URLRequired", "MissingSchema", "InvalidSchema", "InvalidURL", "InvalidHeader"}:
        return Classification.from_exception(exc, "fatal", "bad_request")
    if "TooManyRedirects" in names:
        return Classification.from_exception(exc, "fatal", "bad_request")
    if "InvalidJSONError" in names:
        return Classification.from_exception(exc, "fatal", "bug")
    return Classification.from_exception(exc, "retryable", "unknown")
