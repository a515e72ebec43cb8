"""Failpoint specs, thread IDs and the folding of events into node executions."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from agent_graph import InvalidThreadId, thread_id_for
from agent_graph.runtime import FailpointError, Failpoints, check_thread_id
from agent_graph.runtime._records import node_executions
from checkpointers import EventRecord
from policies import ConfigurationError


def test_failpoint_raise_fires_on_the_nth_hit_only() -> None:
    points = Failpoints.parse("node:outline:start=raise@2")
    points.hit("node:outline:start")
    points.hit("node:edit:start")
    with pytest.raises(FailpointError):
        points.hit("node:outline:start")
    points.hit("node:outline:start")


def test_failpoint_wildcards_match_any_segment() -> None:
    points = Failpoints.parse("llm:*:response=raise")
    with pytest.raises(FailpointError):
        points.hit("llm:take_notes:response")
    points.hit("node:take_notes:start")


def test_failpoint_probability_is_seeded() -> None:
    def fired(seed: int) -> list[int]:
        points = Failpoints.parse("effect:*:before=raise%0.5", seed=seed)
        hits = []
        for i in range(40):
            try:
                points.hit("effect:publish:before")
            except FailpointError:
                hits.append(i)
        return hits

    assert fired(7) == fired(7)
    assert 5 < len(fired(7)) < 35


@pytest.mark.parametrize("spec", ["node:x:start", "node:x:start=explode", "x=kill@0", "=kill"])
def test_malformed_failpoint_names_the_syntax(spec: str) -> None:
    with pytest.raises(ConfigurationError, match="failpoint rule"):
        Failpoints.parse(spec)


def test_kill_failpoint_sigkills_the_process() -> None:
    code = (
        "from agent_graph.runtime import Failpoints\n"
        "Failpoints.parse('node:a:start=kill').hit('node:a:start')\n"
        "print('survived')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ)
    )
    assert proc.returncode == -9
    assert "survived" not in proc.stdout


@pytest.mark.parametrize("good", ["solar-panels", "a", "Run_1.2:x@y", "x" * 128])
def test_good_thread_ids(good: str) -> None:
    assert check_thread_id(good) == good


@pytest.mark.parametrize("bad", ["", "bad id", "-x", "x" * 129, "a/b", "é"])
def test_bad_thread_ids(bad: str) -> None:
    with pytest.raises(InvalidThreadId, match="malformed thread ID"):
        check_thread_id(bad)


def test_default_thread_id_is_the_keyword_slug() -> None:
    assert thread_id_for("Solar Panels  2026!") == "solar-panels-2026"
    check_thread_id(thread_id_for("Ünïcode only ✓"))


def _event(i: int, kind: str, node: str, task: str, attempt: int | None = 1) -> EventRecord:
    at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=i)
    data: dict[str, object] = {}
    if kind in ("node_completed", "node_failed"):
        data = {"started_at": (at - timedelta(seconds=0.5)).isoformat(), "duration_ms": 500.0}
    return EventRecord(i, "t", at, kind, node, task, attempt, "h:1", data)


def test_node_executions_are_the_outcomes_of_attempts_in_start_order() -> None:
    events = [
        _event(1, "run_started", "", ""),
        _event(2, "node_completed", "a", "t1"),
        _event(5, "node_failed", "c", "t3"),
        _event(6, "run_resumed", "", ""),
        _event(7, "node_interrupted", "b", "t2", None),
        _event(9, "node_completed", "b", "t2", 2),
    ]
    runs = node_executions(events)
    assert [(r.node, r.status, r.attempt) for r in runs] == [
        ("a", "completed", 1),
        ("c", "failed", 1),
        ("b", "interrupted", None),
        ("b", "completed", 2),
    ]
    assert runs[0].duration_ms == 500.0
    assert runs[1].error is not None
    assert runs[2].started_at is None
