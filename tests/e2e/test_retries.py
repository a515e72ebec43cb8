"""Policy-driven retries at every node, against faults injected by the real offline provider."""

from __future__ import annotations

import pytest
from agent_cli import Cli, cli_env

from agent_graph.provider import BackgroundProvider


@pytest.fixture
def flaky(database_url: str) -> tuple[Cli, BackgroundProvider]:
    with BackgroundProvider(
        faults="chat:rate_limit(0.05)=0.2,chat:server_error=0.1,search:unavailable(0.05)@1"
    ) as provider:
        yield Cli(cli_env(database_url, provider.base_url)), provider


def test_run_under_rate_limits_and_server_errors_completes_with_retries_in_history(
    flaky: tuple[Cli, BackgroundProvider],
) -> None:
    cli, provider = flaky
    proc = cli.run("run", "solar panels")
    assert proc.returncode == 0, proc.stderr
    assert cli.json("status", "solar-panels")["status"] == "completed"

    failed = [h for h in cli.json("history", "solar-panels") if h["status"] == "failed"]
    stats = provider.stats()
    injected = stats["faults_injected"]
    assert len(failed) == sum(injected.values()) > 0
    reasons = {h["error"]["reason"] for h in failed}
    assert "rate_limited" in reasons
    for h in failed:
        assert h["error"]["action"] == "retry"
        if h["error"]["reason"] == "rate_limited":
            # the provider's Retry-After (0.05 s) replaces the exponential backoff
            assert h["error"]["retry_after"] == pytest.approx(0.05)
            assert h["error"]["delay"] == pytest.approx(0.05)
    search_failure = [h for h in failed if h["node"] == "search"]
    assert [h["error"]["status"] for h in search_failure] == [503]
    # each retried node ends with exactly one completed execution, numbered after its failures
    history = cli.json("history", "solar-panels")
    for node, task in {(h["node"], h["task_id"]) for h in failed}:
        attempts = [h for h in history if (h["node"], h["task_id"]) == (node, task)]
        assert [a["attempt"] for a in attempts] == list(range(1, len(attempts) + 1))
        assert attempts[-1]["status"] == "completed"


def test_quota_exhausted_fails_on_the_first_attempt(database_url: str) -> None:
    with BackgroundProvider(faults="chat~Outline:quota") as provider:
        cli = Cli(cli_env(database_url, provider.base_url))
        proc = cli.run("run", "solar panels")
        assert proc.returncode == 1
        status = cli.json("status", "solar-panels")
        assert status["status"] == "dead_lettered"
        assert status["next"] == ["outline"]
        failed = [h for h in cli.json("history", "solar-panels") if h["status"] == "failed"]
        assert [(h["node"], h["attempt"], h["error"]["reason"]) for h in failed] == [
            ("outline", 1, "quota_exhausted")
        ]
        assert failed[0]["error"]["kind"] == "fatal"
        assert "offline-test-key" not in str(failed)
