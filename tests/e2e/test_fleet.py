"""The worker fleet end to end: real worker processes, SIGKILL, SIGTERM, poison pills."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from fleet_procs import Fleet, wait_for

from agent_graph.provider import BackgroundProvider

pytestmark = pytest.mark.postgres


@pytest.fixture
def fleet(database_url: str, tmp_path: Path) -> Iterator[Fleet]:
    running = Fleet(database_url, tmp_path)
    try:
        yield running
    finally:
        running.stop_all()


def test_sigkill_one_of_two_workers_every_thread_completes(fleet: Fleet) -> None:
    # 4 s per thread: the threads the victim holds are still running when it is killed
    fleet.env["AGENT_GRAPH_SYNTHETIC_DELAY_MS"] = "200"
    keywords = [f"kill test {i}" for i in range(50)]
    ids = [f"kill-test-{i}" for i in range(50)]
    victim = fleet.worker("--concurrency", "10")
    survivor = fleet.worker("--concurrency", "10")
    assert fleet.submit(keywords)["queued"] == ids

    wait_for(lambda: fleet.held_by(victim) >= 5, 60, "the victim to hold 5 threads")
    wait_for(lambda: "completed" in fleet.run_statuses().values(), 60, "a first completion")
    held = {
        r["lock"]
        for r in fleet.rows(
            "SELECT j.lock FROM procrastinate_jobs j JOIN agent_graph_workers w "
            "ON j.worker_id = w.queue_worker WHERE j.status = 'doing' AND w.owner LIKE %(p)s",
            {"p": f"%:{victim.pid}"},
        )
    }
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)

    wait_for(lambda: fleet.completed(ids), 180, "all 50 threads to complete", detail=fleet.diagnose)
    assert survivor.poll() is None, fleet.log_of(survivor)
    fleet.check_history(ids, steps=20)
    recovered = fleet.rows(
        "SELECT thread_id FROM agent_graph_runs WHERE recoveries >= 1 AND thread_id = ANY(%(t)s)",
        {"t": list(held)},
    )
    assert recovered, "the victim's threads were resumed as recoveries"


def test_sigterm_drains_within_grace_and_threads_finish_elsewhere(fleet: Fleet) -> None:
    # 12 s per thread: still running when the second worker is up, even on a loaded machine
    fleet.env["AGENT_GRAPH_SYNTHETIC_DELAY_MS"] = "600"
    ids = [f"drain-{i}" for i in range(12)]
    leaving = fleet.worker("--concurrency", "12", "--grace", "10")
    fleet.submit(ids)
    wait_for(lambda: fleet.held_by(leaving) >= 6, 60, "the leaving worker to hold 6 threads")
    staying = fleet.worker("--concurrency", "12")
    wait_for(
        lambda: fleet.rows(
            "SELECT 1 FROM agent_graph_workers WHERE owner LIKE %(p)s", {"p": f"%:{staying.pid}"}
        ),
        60,
        "the second worker to register",
    )
    assert fleet.held_by(leaving) >= 6, "the leaving worker still holds threads to drain"
    leaving.send_signal(signal.SIGTERM)
    assert leaving.wait(10) == 0, fleet.log_of(leaving)

    stopped = {
        r["thread_id"]
        for r in fleet.rows(
            "SELECT thread_id FROM agent_graph_events WHERE kind = 'run_stopped' "
            "AND owner LIKE %(p)s",
            {"p": f"%:{leaving.pid}"},
        )
    }
    assert len(stopped) >= 6, "the drained threads stopped at a node boundary"
    wait_for(lambda: fleet.completed(ids), 120, "every thread to complete on the other worker")
    fleet.check_history(ids, steps=20)
    finishers = fleet.rows(
        "SELECT thread_id, owner FROM agent_graph_events WHERE kind = 'run_completed' "
        "AND thread_id = ANY(%(t)s)",
        {"t": sorted(stopped)},
    )
    assert len(finishers) == len(stopped)
    assert all(f["owner"].endswith(f":{staying.pid}") for f in finishers), finishers
    statuses = fleet.rows(
        "SELECT status::text AS s, count(*) AS n FROM procrastinate_jobs GROUP BY status"
    )
    assert {r["s"] for r in statuses} <= {"succeeded"}, statuses


def test_poison_thread_is_dead_lettered_and_the_fleet_keeps_serving(fleet: Fleet) -> None:
    fleet.submit(["poison pill"])
    crashes = 0
    while "dead_lettered" not in fleet.run_statuses().values():
        assert crashes <= 3, "dead-lettered after at most max_recoveries + 1 crashes"
        proc = fleet.worker("--max-recoveries", "2", failpoints="node:step_03:start=kill")
        wait_for(
            lambda p=proc: (
                p.poll() is not None or fleet.run_statuses().get("poison-pill") == "dead_lettered"
            ),
            60,
            "the worker to crash or the thread to be dead-lettered",
        )
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(10) == 0
        else:
            assert proc.returncode == -signal.SIGKILL
            crashes += 1
    assert crashes == 3
    run = fleet.rows("SELECT * FROM agent_graph_runs WHERE thread_id = 'poison-pill'")[0]
    assert run["error"]["reason"] == "crash_loop"

    ids = [f"healthy-{i}" for i in range(5)]
    fleet.submit(ids)
    fleet.worker("--concurrency", "5")
    wait_for(lambda: fleet.completed(ids), 60, "healthy threads to complete")
    assert fleet.run_statuses()["poison-pill"] == "dead_lettered"


def test_ten_workers_start_at_once_on_an_empty_database(
    fresh_database_url: str, tmp_path: Path
) -> None:
    fleet = Fleet(fresh_database_url, tmp_path)
    try:
        procs = [fleet.worker("--concurrency", "2") for _ in range(10)]

        def all_up() -> bool:
            for proc in procs:
                assert proc.poll() is None, fleet.log_of(proc)
            found = fleet.rows(
                "SELECT count(*) AS n FROM pg_tables WHERE tablename = 'agent_graph_workers'"
            )
            if not found[0]["n"]:
                return False
            rows = fleet.rows(
                "SELECT count(*) AS n FROM agent_graph_workers WHERE state = 'running'"
            )
            return int(rows[0]["n"]) == 10

        wait_for(all_up, 120, "ten workers to register", interval=0.5)
        ids = [f"race-{i}" for i in range(20)]
        fleet.submit(ids)
        wait_for(lambda: fleet.completed(ids), 90, "threads to complete")
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            assert proc.wait(20) == 0, fleet.log_of(proc)
        status = fleet.command("fleet", "--json")
        assert status.returncode == 0, status.stderr
        assert '"completed": 20' in status.stdout
    finally:
        fleet.stop_all()


def test_submit_refuses_bad_input_and_fleet_shows_the_queue(fleet: Fleet) -> None:
    empty = fleet.command("submit")
    assert empty.returncode == 2
    assert "no keyword given" in empty.stderr
    bad = fleet.command("submit", "ok keyword", " ")
    assert bad.returncode == 2
    assert "invalid keyword" in bad.stderr
    assert fleet.submit(["first one", "second one", "first one"])["queued"] == [
        "first-one",
        "second-one",
    ]
    view = fleet.command("fleet")
    assert view.returncode == 0, view.stderr
    assert "2 queued" in view.stdout


def test_workers_run_the_content_agent_by_default(
    database_url: str, tmp_path: Path, provider: BackgroundProvider
) -> None:
    fleet = Fleet(
        database_url,
        tmp_path,
        env={
            "OPENAI_BASE_URL": f"{provider.base_url}/v1",
            "AGENT_GRAPH_SERVICES_URL": provider.base_url,
        },
    )
    try:
        fleet.worker("--concurrency", "3", graph=None)
        ids = ["solar-panels", "wind-turbines", "heat-pumps"]
        fleet.submit(["solar panels", "wind turbines", "heat pumps"])
        wait_for(lambda: fleet.completed(ids), 120, "three articles", detail=fleet.diagnose)
        articles = fleet.rows("SELECT thread_id FROM agent_graph_articles ORDER BY thread_id")
        assert [a["thread_id"] for a in articles] == sorted(ids)
    finally:
        fleet.stop_all()
