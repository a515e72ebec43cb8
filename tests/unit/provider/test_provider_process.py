"""Running the provider as a real child process, and its settings."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import httpx
import openai
import pytest

from agent_graph.provider import (
    BackgroundProvider,
    ProviderConfig,
    ProviderError,
    fetch_stats,
    parse_faults,
    serve,
)
from policies._errors import ConfigurationError


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_background_provider_serves_and_stops() -> None:
    with BackgroundProvider(seed=1, faults="chat:rate_limit@1") as provider:
        assert provider.base_url.startswith("http://127.0.0.1:")
        assert provider.openai_base_url == f"{provider.base_url}/v1"
        pid = provider.pid
        assert process_exists(pid)
        client = openai.OpenAI(base_url=provider.openai_base_url, api_key="offline", max_retries=0)
        messages = [{"role": "user", "content": "keyword: kites"}]
        with pytest.raises(openai.RateLimitError):
            client.chat.completions.create(model="m", messages=messages)  # type: ignore[arg-type]
        assert client.chat.completions.create(model="m", messages=messages)  # type: ignore[arg-type]
        stats = provider.stats()
        assert stats == fetch_stats(provider.openai_base_url)
        assert (stats["chat_completions"], stats["chat_completions_ok"]) == (2, 1)
        assert stats["faults_injected"] == {"chat:rate_limit": 1}
        provider.reset()
        assert provider.stats()["chat_completions"] == 0
        provider.set_faults("search:server_error")
        assert httpx.get(f"{provider.base_url}/_faults").json() == {"spec": "search:server_error"}
        with pytest.raises(ConfigurationError):
            provider.set_faults("search:nope")
        base = provider.base_url
    assert not process_exists(pid)
    with pytest.raises(ProviderError):
        _ = provider.base_url
    with pytest.raises(ProviderError):
        fetch_stats(base)


async def test_background_provider_in_async_code() -> None:
    async with BackgroundProvider(ProviderConfig(latency=0.05)) as provider:
        async with httpx.AsyncClient() as http:
            response = await http.get(f"{provider.base_url}/_health")
        assert response.json() == {"ok": True}
        pid = provider.pid
    assert not process_exists(pid)


def test_background_provider_reports_a_failed_start() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(ProviderError) as caught:
            BackgroundProvider(port=taken.getsockname()[1]).start()
    assert "exited at startup" in str(caught.value)


def test_background_provider_rejects_bad_settings() -> None:
    with pytest.raises(ConfigurationError):
        BackgroundProvider(faults="chat:explode")
    with pytest.raises(ConfigurationError):
        BackgroundProvider(ProviderConfig(), seed=3)


def test_settings_are_validated() -> None:
    with pytest.raises(ConfigurationError):
        ProviderConfig(latency=-1)
    with pytest.raises(ConfigurationError):
        serve(host="0.0.0.0", port=8765, config=ProviderConfig())
    with pytest.raises(ConfigurationError):
        serve(host="example.com", port=8765, config=ProviderConfig())
    assert ProviderConfig(faults=parse_faults("chat:quota")).faults.spec == "chat:quota"


def test_command_line_rejects_a_bad_fault_spec() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "agent_graph.provider", "--port", "1", "--faults", "chat:boom"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        check=False,
    )
    assert result.returncode == 2
    assert "unknown kind 'boom'" in result.stderr
