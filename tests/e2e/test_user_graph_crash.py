"""make_durable on a user's own graph gives the same crash guarantees as the content agent."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

APP = Path(__file__).with_name("user_graph_app.py")


def run(database_url: str, *args: str, failpoints: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENT_GRAPH_")}
    env["DATABASE_URL"] = database_url
    if failpoints:
        env["AGENT_GRAPH_FAILPOINTS"] = failpoints
    return subprocess.run(
        [sys.executable, str(APP), *args], env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("failpoint", "reruns"),
    [
        ("node:charge:start=kill", {}),  # killed before the body ran
        (
            "effect:charge:after=kill",
            {"charge": 1},
        ),  # paid, not recorded: reconciled, not paid again
        ("node:thank:end=kill", {"thank": 1}),  # body done, writes not saved
        # just before the checkpoint after "quote": its writes commit concurrently and may or
        # may not have landed, so "quote" (the step being saved) may run once more
        ("checkpoint:put=kill@3", {"quote": 1}),
    ],
)
def test_kill_then_resume_runs_each_completed_node_once_and_pays_once(
    database_url: str, tmp_path: Path, failpoint: str, reruns: dict[str, int]
) -> None:
    counter = tmp_path / "counter.txt"
    killed = run(database_url, "start", "order-1", str(counter), failpoints=failpoint)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    resumed = run(database_url, "resume", "order-1", str(counter))
    assert resumed.returncode == 0, resumed.stderr
    status = json.loads(resumed.stdout)
    assert status["status"] == "completed"
    assert status["result"]["note"] == "thanks for lamp"

    ran = Counter(word.partition(":")[0] for word in counter.read_text().split())
    assert ran["charged"] == 1, "the payment happened exactly once"
    for node in ("quote", "charge", "thank"):
        assert 1 <= ran[node] <= 1 + reruns.get(node, 0), (node, ran)
        if failpoint.startswith(("node:", "effect:")):
            assert ran[node] == 1 + reruns.get(node, 0), (node, ran)
