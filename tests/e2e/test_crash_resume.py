"""Kill -9 the `agent-graph run` process at several points; `resume` completes the thread.

Invariant 1: a node that completed is never executed again for the same thread.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from typing import Any

import psycopg
import pytest
from agent_cli import Cli, cli_env

from agent_graph.provider import BackgroundProvider

KEYWORD = "solar panels"


def completed_per_node(cli: Cli, thread_id: str) -> Counter[str]:
    history = cli.json("history", thread_id)
    return Counter(h["node"] for h in history if h["status"] == "completed")


@pytest.fixture
def baseline(cli: Cli) -> dict[str, Any]:
    """An uncrashed run of the same keyword, on its own thread."""
    proc = cli.run("run", KEYWORD, "--thread-id", "baseline")
    assert proc.returncode == 0, proc.stderr
    status = cli.json("status", "baseline")
    assert status["status"] == "completed"
    return {"article": status["result"], "completed": completed_per_node(cli, "baseline")}


@pytest.mark.parametrize(
    ("failpoint", "interrupted"),
    [
        ("node:search:start=kill", "search"),
        ("node:fact_check:start=kill", "fact_check"),
        ("node:draft_section:start=kill@3", "draft_section"),
        ("llm:take_notes:response=kill@2", "take_notes"),
        ("node:set_live:start=kill", "set_live"),
        ("checkpoint:put=kill@9", None),
    ],
)
def test_kill_then_resume_runs_no_completed_node_twice(
    cli: Cli, baseline: dict[str, Any], failpoint: str, interrupted: str | None
) -> None:
    crashed = cli.run("run", KEYWORD, "--thread-id", "crashy", failpoints=failpoint)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr

    status = cli.json("status", "crashy")
    assert status["status"] == "incomplete"
    # killed before a checkpoint, the step's writes may all be saved already: then nothing is
    # left to run in it ("next" is empty) but the graph has not moved on yet
    assert status["next"] or failpoint.startswith("checkpoint:")

    resumed = cli.run("resume", "crashy")
    assert resumed.returncode == 0, resumed.stderr
    final = cli.json("status", "crashy")
    assert final["status"] == "completed"
    assert final["result"] == baseline["article"]

    completed = completed_per_node(cli, "crashy")
    expected = baseline["completed"]
    for node in set(expected) | set(completed):
        assert completed[node] == expected[node], (node, completed, expected)
    # Only executions cut off by the kill may have run again: one re-run per cut-off task.
    history = cli.json("history", "crashy")
    starts = Counter(h["node"] for h in history)
    cut_off = Counter(h["node"] for h in history if h["status"] == "interrupted")
    assert sum(cut_off.values()) <= 4, cut_off
    if interrupted is not None:
        assert set(cut_off) <= {interrupted}, cut_off
    for node, count in starts.items():
        assert count - expected[node] == cut_off[node], (node, count, expected[node], cut_off)


def test_resume_of_completed_thread_says_so(cli: Cli, baseline: dict[str, Any]) -> None:
    proc = cli.run("resume", "baseline")
    assert proc.returncode == 0
    assert "already completed" in proc.stderr


def test_run_refuses_new_input_on_unfinished_thread(cli: Cli) -> None:
    crashed = cli.run("run", KEYWORD, "--thread-id", "half", failpoints="node:outline:start=kill")
    assert crashed.returncode == -signal.SIGKILL
    before = cli.json("status", "half")

    again = cli.run("run", "wind turbines", "--thread-id", "half")
    assert again.returncode != 0
    assert "agent-graph resume half" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
    assert cli.json("status", "half") == before


def test_sigterm_stops_at_node_boundary_and_resume_finishes(database_url: str) -> None:
    with BackgroundProvider(latency=0.3) as slow:
        cli = Cli(cli_env(database_url, slow.base_url))
        proc = subprocess.Popen(
            [sys.executable, "-m", "agent_graph", "run", KEYWORD, "--thread-id", "term"],
            env=cli.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        # SIGTERM while take_notes is waiting for the model: after scrape_sources completed,
        # as soon as the provider has received a take_notes request
        deadline = time.monotonic() + 60
        with psycopg.connect(database_url, autocommit=True) as conn:
            while time.monotonic() < deadline:
                row = conn.execute(
                    "SELECT count(*) FROM agent_graph_events WHERE thread_id = 'term' "
                    "AND kind = 'node_completed' AND node = 'scrape_sources'"
                ).fetchone()
                if row and row[0] >= 1:
                    break
                time.sleep(0.02)
        asked = slow.stats()["chat_completions"]
        while time.monotonic() < deadline and slow.stats()["chat_completions"] <= asked:
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)

        assert proc.returncode == 3, stderr
        assert "agent-graph resume term" in stderr
        status = cli.json("status", "term")
        assert status["status"] == "incomplete"
        history = cli.json("history", "term")
        assert [h for h in history if h["status"] == "interrupted"] == [], "no node cut off"
        assert any(h["node"] == "take_notes" for h in history)
        assert "outline" not in status["completed_nodes"]

        assert cli.run("resume", "term").returncode == 0
        assert cli.json("status", "term")["status"] == "completed"
