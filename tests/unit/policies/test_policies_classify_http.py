"""Classification of httpx, httpx2 and requests errors, raised by the real clients."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import httpx
import httpx2
import pytest
import requests

from policies import classify

STATUS_CASES = [
    (408, "retryable", "timeout"),
    (429, "retryable", "rate_limited"),
    (500, "retryable", "server_error"),
    (502, "retryable", "server_error"),
    (503, "retryable", "server_error"),
    (400, "fatal", "bad_request"),
    (401, "fatal", "auth"),
    (403, "fatal", "auth"),
    (404, "fatal", "not_found"),
    (409, "fatal", "conflict"),
    (422, "fatal", "bad_request"),
]


def _httpx_status_error(status: int, headers: dict[str, str] | None = None) -> BaseException:
    transport = httpx.MockTransport(lambda _req: httpx.Response(status, headers=headers))
    with httpx.Client(transport=transport) as client:
        response = client.get("http://service.test/item")
        with pytest.raises(httpx.HTTPStatusError) as info:
            response.raise_for_status()
    return info.value


def _httpx_transport_error(error: httpx.TransportError) -> BaseException:
    def handler(_request: httpx.Request) -> httpx.Response:
        raise error

    with (
        httpx.Client(transport=httpx.MockTransport(handler)) as client,
        pytest.raises(httpx.TransportError) as info,
    ):
        client.get("http://service.test/item")
    return info.value


@pytest.mark.parametrize(("status", "kind", "reason"), STATUS_CASES)
def test_httpx_status_errors(status: int, kind: str, reason: str) -> None:
    got = classify(_httpx_status_error(status))
    assert (got.kind, got.reason, got.status) == (kind, reason, status)
    assert got.error_type == "httpx.HTTPStatusError"


@pytest.mark.parametrize("status", [429, 503])
def test_httpx_status_error_honours_retry_after(status: int) -> None:
    got = classify(_httpx_status_error(status, {"Retry-After": "4"}))
    assert (got.kind, got.retry_after) == ("retryable", 4.0)


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (httpx.ConnectTimeout("connect timed out"), "timeout"),
        (httpx.ReadTimeout("read timed out"), "timeout"),
        (httpx.PoolTimeout("pool timed out"), "timeout"),
        (httpx.ConnectError("refused"), "connection"),
        (httpx.ReadError("reset"), "connection"),
        (httpx.RemoteProtocolError("peer closed connection"), "connection"),
        (httpx.ProxyError("proxy down"), "connection"),
    ],
)
def test_httpx_transport_errors_are_retryable(error: httpx.TransportError, reason: str) -> None:
    got = classify(_httpx_transport_error(error))
    assert (got.kind, got.reason) == ("retryable", reason)


def test_httpx_unsupported_protocol_is_fatal() -> None:
    with httpx.Client() as client, pytest.raises(httpx.UnsupportedProtocol) as info:
        client.get("ftp://service.test/file")
    got = classify(info.value)
    assert (got.kind, got.reason) == ("fatal", "bad_request")


def test_httpx2_errors_classify_like_httpx() -> None:
    transport = httpx2.MockTransport(
        lambda _req: httpx2.Response(429, headers={"retry-after": "3"})
    )
    with httpx2.Client(transport=transport) as client:
        response = client.get("http://service.test/item")
        with pytest.raises(httpx2.HTTPStatusError) as info:
            response.raise_for_status()
    got = classify(info.value)
    assert (got.kind, got.reason, got.retry_after) == ("retryable", "rate_limited", 3.0)

    def timeout(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ReadTimeout("read timed out", request=request)

    with (
        httpx2.Client(transport=httpx2.MockTransport(timeout)) as client,
        pytest.raises(httpx2.ReadTimeout) as timed_out,
    ):
        client.get("http://service.test/item")
    assert classify(timed_out.value).reason == "timeout"


class _StatusHandler(BaseHTTPRequestHandler):
    """GET /?status=503&retry_after=5 answers with that status (and Retry-After)."""

    def do_GET(self) -> None:
        query = parse_qs(urlparse(self.path).query)
        self.send_response(int(query["status"][0]))
        if "retry_after" in query:
            self.send_header("Retry-After", query["retry_after"][0])
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StatusHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize(("status", "kind", "reason"), STATUS_CASES)
def test_requests_http_errors(server_url: str, status: int, kind: str, reason: str) -> None:
    response = requests.get(server_url, params={"status": status}, timeout=5)
    with pytest.raises(requests.HTTPError) as info:
        response.raise_for_status()
    got = classify(info.value)
    assert (got.kind, got.reason, got.status) == (kind, reason, status)
    assert got.error_type == "requests.exceptions.HTTPError"


def test_requests_http_error_honours_retry_after(server_url: str) -> None:
    response = requests.get(server_url, params={"status": 503, "retry_after": 5}, timeout=5)
    with pytest.raises(requests.HTTPError) as info:
        response.raise_for_status()
    got = classify(info.value)
    assert (got.kind, got.reason, got.retry_after) == ("retryable", "server_error", 5.0)


def test_requests_connection_error(closed_port: int) -> None:
    with pytest.raises(requests.ConnectionError) as info:
        requests.get(f"http://127.0.0.1:{closed_port}/", timeout=5)
    got = classify(info.value)
    assert (got.kind, got.reason) == ("retryable", "connection")


def test_requests_read_timeout() -> None:
    # A listening socket that never answers: the kernel accepts, nobody replies.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        with pytest.raises(requests.ReadTimeout) as info:
            requests.get(f"http://127.0.0.1:{port}/", timeout=0.05)
    got = classify(info.value)
    assert (got.kind, got.reason) == ("retryable", "timeout")


def test_requests_connect_timeout_is_timeout() -> None:
    # ConnectTimeout is both a ConnectionError and a Timeout.
    got = classify(requests.ConnectTimeout("connect timed out"))
    assert (got.kind, got.reason) == ("retryable", "timeout")


def test_requests_missing_schema_is_fatal() -> None:
    with pytest.raises(requests.exceptions.MissingSchema) as info:
        requests.get("service.test/no-scheme", timeout=5)
    got = classify(info.value)
    assert (got.kind, got.reason) == ("fatal", "bad_request")
