"""Fixtures for end-to-end tests: real `agent-graph` processes, a real offline provider."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from agent_cli import Cli, cli_env

from agent_graph.provider import BackgroundProvider


@pytest.fixture
def provider() -> Iterator[BackgroundProvider]:
    with BackgroundProvider() as running:
        yield running


@pytest.fixture
def cli(database_url: str, provider: BackgroundProvider) -> Cli:
    return Cli(cli_env(database_url, provider.base_url))
