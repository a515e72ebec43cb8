"""Fixtures: the offline provider served in-process by uvicorn on a free loopback port."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

import httpx
import pytest
import uvicorn

from agent_graph.provider import ProviderConfig, create_app, parse_faults

StartProvider = Callable[..., str]


@contextmanager
def serving(config: ProviderConfig) -> Iterator[str]:
    """Serve ``create_app(config)`` in a thread; yield its base URL; stop it afterwards."""
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(config),
            host="127.0.0.1",
            port=0,
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive(), "the provider thread died at startup"
        assert time.monotonic() < deadline, "the provider did not start within 10 s"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def start_offline() -> Iterator[StartProvider]:
    """Return ``start(seed=0, latency=0.0, faults="") -> base_url``; servers stop after the test."""
    with ExitStack() as stack:

        def start(seed: int = 0, latency: float = 0.0, faults: str = "") -> str:
            config = ProviderConfig(seed=seed, latency=latency, faults=parse_faults(faults))
            return stack.enter_context(serving(config))

        yield start


@pytest.fixture(scope="session")
def shared_offline() -> Iterator[str]:
    """One provider with default settings for the whole session."""
    with serving(ProviderConfig()) as base:
        yield base


@pytest.fixture
def offline(shared_offline: str) -> str:
    """Base URL of a provider with default settings (seed 0, no latency, no faults), reset."""
    httpx.post(f"{shared_offline}/_reset").raise_for_status()
    return shared_offline
