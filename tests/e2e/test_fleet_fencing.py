"""Fencing in the fleet: a frozen worker (SIGSTOP) that wakes up after its threads were handed
to another worker writes no checkpoint, event or side effect for them.

Real worker processes run the content agent against the offline provider (with latency, so a
thread is in the middle of its nodes when the worker freezes) on a real Postgres.
"""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from fleet_procs import Fleet, wait_for

from agent_graph import thread_id_for
from agent_graph.provider import BackgroundProvider

pytestmark = pytest.mark.postgres

KEYWORDS = [f"frozen worker {i}" for i in range(8)]
IDS = [thread_id_for(k) for k in KEYWORDS]


@pytest.fixture
def provider() -> Iterator[BackgroundProvider]:
    with BackgroundProvider(latency=0.3) as running:
        yield running


@pytest.fixture
def fleet(database_url: str, tmp_path: Path, provider: BackgroundProvider) -> Iterator[Fleet]:
    running = Fleet(
        database_url,
        tmp_path,
        env={
            "OPENAI_BASE_URL": provider.openai_base_url,
            "AGENT_GRAPH_SERVICES_URL": provider.base_url,
        },
    )
    try:
        yield running
    finally:
        for proc in running.procs:  # a stopped process ignores SIGKILL until continued
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
        running.stop_all()


def test_sigstop_worker_woken_after_handover_writes_nothing(
    fleet: Fleet, provider: BackgroundProvider
) -> None:
    frozen = fleet.worker("--concurrency", "8", graph=None)
    fleet.submit(KEYWORDS)
    wait_for(
        lambda: (
            len(fleet.rows("SELECT 1 FROM agent_graph_events WHERE kind = 'node_completed'")) >= 16
        ),
        120,
        "the first worker to be well into its threads",
        detail=fleet.diagnose,
    )
    frozen.send_signal(signal.SIGSTOP)
    owner = fleet.rows(
        "SELECT owner FROM agent_graph_workers WHERE owner LIKE %(p)s", {"p": f"%:{frozen.pid}"}
    )[0]["owner"]
    held = {
        r["thread_id"]
        for r in fleet.rows(
            "SELECT thread_id FROM agent_graph_runs WHERE owner = %(o)s AND status = 'running'",
            {"o": owner},
        )
    }
    assert held, "the frozen worker held threads"

    other = fleet.worker("--concurrency", "8", graph=None)
    wait_for(
        lambda: all(
            r["owner"] != owner
            for r in fleet.rows(
                "SELECT owner FROM agent_graph_runs WHERE thread_id = ANY(%(t)s)",
                {"t": sorted(held)},
            )
        ),
        90,
        "the frozen worker's threads to be taken over",
        detail=fleet.diagnose,
    )
    last_event = fleet.rows("SELECT coalesce(max(id), 0) AS n FROM agent_graph_events")[0]["n"]
    frozen.send_signal(signal.SIGCONT)

    wait_for(lambda: fleet.completed(IDS), 180, "every thread to complete", detail=fleet.diagnose)

    def late_writes() -> list[dict[str, object]]:
        return fleet.rows(
            "SELECT thread_id, kind FROM agent_graph_events "
            "WHERE id > %(n)s AND owner = %(o)s AND thread_id = ANY(%(t)s)",
            {"n": last_event, "o": owner, "t": sorted(held)},
        )

    def refused() -> set[str]:
        log = fleet.log_of(frozen)
        return {t for t in held if f"thread {t} was taken over by another process" in log}

    # The woken worker goes on with each thread it held until its next write, which the
    # fence refuses (it logs that and drops the thread); unfenced, that write would land.
    wait_for(
        lambda: refused() == held or late_writes(),
        90,
        "the woken worker to try writing for every thread it held",
        detail=lambda: fleet.log_of(frozen)[-3000:],
    )
    assert late_writes() == []
    assert frozen.poll() is None, fleet.log_of(frozen)
    assert other.poll() is None, fleet.log_of(other)

    # one checkpoint chain per thread: no checkpoint forked off by a second writer
    forks = fleet.rows(
        "SELECT thread_id, parent_checkpoint_id, count(*) AS n FROM checkpoints "
        "WHERE thread_id = ANY(%(t)s) AND checkpoint_ns = '' "
        "GROUP BY thread_id, parent_checkpoint_id HAVING count(*) > 1",
        {"t": IDS},
    )
    assert forks == [], forks
    # each side effect once, each article published once
    effects = fleet.rows(
        "SELECT thread_id, name, status FROM agent_graph_effects WHERE thread_id = ANY(%(t)s)",
        {"t": IDS},
    )
    assert effects
    assert {e["status"] for e in effects} == {"done"}, effects
    stats = provider.stats()
    assert stats["publishes"] == dict.fromkeys(IDS, 1)
    assert stats["live"] == dict.fromkeys(IDS, 1)
    completed = Counter(
        (r["thread_id"], r["task_id"])
        for r in fleet.rows(
            "SELECT thread_id, task_id FROM agent_graph_events WHERE kind = 'node_completed' "
            "AND thread_id = ANY(%(t)s)",
            {"t": IDS},
        )
    )
    assert set(completed.values()) == {1}, "no completed node ran again"
    # the woken worker left the queue jobs of its lost threads to the worker that runs them:
    # had it marked them finished, the survivor's own finish would find them done already
    assert "Job was not found" not in fleet.log_of(other), fleet.log_of(other)[-3000:]
    jobs = fleet.rows(
        "SELECT args->>'thread_id' AS thread_id, status FROM procrastinate_jobs "
        "WHERE args->>'thread_id' = ANY(%(t)s)",
        {"t": sorted(held)},
    )
    assert {j["thread_id"] for j in jobs if j["status"] == "succeeded"} == held, jobs
