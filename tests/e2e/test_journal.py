"""Kill -9 `agent-graph run` after an LLM answer arrived and before its node completed.

After `agent-graph resume`, the provider has answered exactly as many chat completions as for an
uncrashed run of the same article: the answer that arrived before the kill is read back from
the journal, not asked (and paid) again, and the thread's cost says what that saved.
"""

from __future__ import annotations

import signal

import psycopg
import pytest
from agent_cli import Cli, cli_env

from agent_graph.llm import thread_cost
from agent_graph.provider import BackgroundProvider
from checkpointers import open_async_pool

KEYWORD = "solar panels"


def journaled_nodes(database_url: str, thread_id: str) -> list[str]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT node FROM agent_graph_llm_journal WHERE thread_id = %s ORDER BY id",
            (thread_id,),
        ).fetchall()
    return [row[0] for row in rows]


def replayed_nodes(database_url: str, thread_id: str) -> list[str]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT node FROM agent_graph_events "
            "WHERE thread_id = %s AND kind = 'llm_replayed' ORDER BY id",
            (thread_id,),
        ).fetchall()
    return [row[0] for row in rows]


@pytest.mark.parametrize("node", ["outline", "edit"])
async def test_answer_received_before_a_kill_is_not_asked_again(
    database_url: str, cli: Cli, provider: BackgroundProvider, node: str
) -> None:
    # An uncrashed run of the same article, against a provider of its own.
    with BackgroundProvider() as other:
        uncrashed = Cli(cli_env(database_url, other.base_url))
        assert uncrashed.run("run", KEYWORD, "--thread-id", "calm").returncode == 0
        calls_uncrashed = other.stats()["chat_completions"]
    assert calls_uncrashed > 5

    crashed = cli.run(
        "run", KEYWORD, "--thread-id", "crashy", failpoints=f"llm:{node}:response=kill"
    )
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    assert journaled_nodes(database_url, "crashy")[-1] == node, "journaled before the kill"
    assert node not in cli.json("status", "crashy")["completed_nodes"]

    resumed = cli.run("resume", "crashy")
    assert resumed.returncode == 0, resumed.stderr
    final = cli.json("status", "crashy")
    assert final["status"] == "completed"
    assert final["result"] == cli.json("status", "calm")["result"]

    assert provider.stats()["chat_completions"] == calls_uncrashed
    assert replayed_nodes(database_url, "crashy") == [node]
    assert journaled_nodes(database_url, "crashy").count(node) == 1

    async with open_async_pool(database_url) as pool:
        crashy = await thread_cost(pool, "crashy")
        calm = await thread_cost(pool, "calm")
    assert calm.calls == calls_uncrashed
    assert calm.saved_usd == 0
    assert crashy.calls == calm.calls
    assert crashy.usd == pytest.approx(calm.usd), "the crash cost nothing extra"
    assert crashy.prompt_tokens == calm.prompt_tokens
    assert crashy.replayed_calls == 1
    assert 0 < crashy.saved_usd <= crashy.usd
    assert crashy.saved_usd >= crashy.per_node[node].usd


def test_cli_budget_pauses_then_raising_it_completes(cli: Cli) -> None:
    paused = cli.run("run", "solar panels", "--budget-usd", "0.0005")
    assert paused.returncode == 3, paused.stderr
    assert "--budget-usd" in paused.stderr
    status = cli.json("status", "solar-panels")
    assert status["status"] == "budget_exceeded"
    assert status["cost"]["usd"] <= 0.0005
    done = cli.run("resume", "solar-panels", "--budget-usd", "1")
    assert done.returncode == 0, done.stderr
    final = cli.json("status", "solar-panels")
    assert final["status"] == "completed"
    assert final["cost"]["usd"] > 0.0005


def test_cli_status_reports_saved_usd_after_a_crash(cli: Cli) -> None:
    killed = cli.run("run", "solar panels", failpoints="node:fact_check:start=kill")
    assert killed.returncode == -9
    assert cli.run("resume", "solar-panels").returncode == 0
    cost = cli.json("status", "solar-panels")["cost"]
    assert cost["saved_usd"] > 0
    assert cost["prompt_tokens"] > 0
    assert cost["completion_tokens"] > 0
    kinds = {e["kind"] for e in cli.json("events", "solar-panels")}
    assert {"run_started", "run_resumed", "node_interrupted", "node_completed", "llm_call"} <= kinds
