"""Helpers for the fleet's end-to-end tests: real worker processes on a real database."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from psycopg.rows import dict_row

T = TypeVar("T")
SYNTHETIC = "agent_graph.fleet:open_synthetic_graph"


def wait_for(
    check: Callable[[], T],
    timeout: float,
    what: str,
    interval: float = 0.2,
    detail: Callable[[], str] | None = None,
) -> T:
    """Poll ``check`` until it returns something truthy, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            extra = f"\n{detail()}" if detail is not None else ""
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}{extra}")
        time.sleep(interval)


@dataclass
class Fleet:
    """Starts workers and submits threads against one database."""

    database_url: str
    logs: Path
    env: dict[str, str] = field(default_factory=dict)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        base = {k: v for k, v in os.environ.items() if not k.startswith("AGENT_GRAPH_")}
        base.update(
            DATABASE_URL=self.database_url,
            OPENAI_API_KEY="offline-test-key",
            OPENAI_BASE_URL="http://127.0.0.1:9/v1",
            AGENT_GRAPH_SERVICES_URL="http://127.0.0.1:9",
            AGENT_GRAPH_HEARTBEAT_SECONDS="1",
            AGENT_GRAPH_SYNTHETIC_STEPS="20",
            AGENT_GRAPH_SYNTHETIC_DELAY_MS="50",
        )
        base.update(self.env)
        self.env = base

    def command(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "agent_graph.fleet", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def submit(self, keywords: Iterable[str]) -> dict[str, Any]:
        file = self.logs / f"keywords-{time.monotonic_ns()}.txt"
        file.write_text("\n".join(keywords) + "\n", encoding="utf-8")
        proc = self.command("submit", "--file", str(file), "--json")
        assert proc.returncode == 0, proc.stderr
        result: dict[str, Any] = json.loads(proc.stdout)
        return result

    def worker(
        self, *args: str, failpoints: str = "", graph: str | None = SYNTHETIC
    ) -> subprocess.Popen[bytes]:
        env = dict(self.env)
        if failpoints:
            env["AGENT_GRAPH_FAILPOINTS"] = failpoints
        command = [sys.executable, "-m", "agent_graph.fleet", "worker", "--stalled-after", "3"]
        if graph:
            command += ["--graph", graph]
        log = (self.logs / f"worker-{len(self.procs)}.log").open("wb")
        proc = subprocess.Popen([*command, *args], env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait(10)

    def rows(self, query: Any, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        with psycopg.connect(self.database_url, autocommit=True, row_factory=dict_row) as conn:
            return conn.execute(query, params).fetchall()

    def run_statuses(self) -> dict[str, str]:
        return {r["thread_id"]: r["status"] for r in self.rows("SELECT * FROM agent_graph_runs")}

    def completed(self, thread_ids: Iterable[str]) -> bool:
        statuses = self.run_statuses()
        return all(statuses.get(t) == "completed" for t in thread_ids)

    def held_by(self, proc: subprocess.Popen[bytes]) -> int:
        """Jobs the worker process holds right now."""
        rows = self.rows(
            "SELECT count(*) AS n FROM procrastinate_jobs j JOIN agent_graph_workers w "
            "ON j.worker_id = w.queue_worker WHERE j.status = 'doing' AND w.owner LIKE %(pid)s",
            {"pid": f"%:{proc.pid}"},
        )
        return int(rows[0]["n"])

    def diagnose(self) -> str:
        """Runs and jobs by status, and the tail of every worker's log."""
        runs = self.rows("SELECT status, count(*) AS n FROM agent_graph_runs GROUP BY 1")
        jobs = self.rows("SELECT status::text, count(*) AS n FROM procrastinate_jobs GROUP BY 1")
        logs = "\n".join(self.log_of(p)[-3000:] for p in self.procs)
        return f"runs: {runs}\njobs: {jobs}\n{logs}"

    def log_of(self, proc: subprocess.Popen[bytes]) -> str:
        return (self.logs / f"worker-{self.procs.index(proc)}.log").read_text(errors="replace")

    def check_history(self, thread_ids: Iterable[str], steps: int) -> None:
        """No thread driven by two workers at once, no completed node run again."""
        events = self.rows(
            "SELECT thread_id, kind, node, task_id, owner FROM agent_graph_events ORDER BY id"
        )
        by_thread: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for event in events:
            by_thread[event["thread_id"]].append(event)
        for thread_id in thread_ids:
            owners = [e["owner"] for e in by_thread[thread_id] if e["owner"]]
            blocks = [o for i, o in enumerate(owners) if i == 0 or owners[i - 1] != o]
            assert len(blocks) == len(set(blocks)), f"{thread_id} interleaved owners: {blocks}"
            done = [e["node"] for e in by_thread[thread_id] if e["kind"] == "node_completed"]
            assert len(done) == len(set(done)) == steps, f"{thread_id} completed nodes: {done}"
