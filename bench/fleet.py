"""Fleet benchmarks: throughput of two worker processes, recovery after SIGKILL, bulk submit.

On dedicated databases (created and dropped by the script), with the synthetic graph of
``agent_graph.fleet`` (a chain of ``--steps`` nodes, each awaiting ``--delay-ms``):

0. no checkpointer: the same threads in one process, stock LangGraph without durability: the
   CPU a node-step costs before any durability (what "added" CPU is measured against);
1. in memory: the same, on LangGraph's ``InMemorySaver`` (``durability="sync"``): what
   LangGraph's own checkpointing costs before any database (the floor of a durable step);
2. stock LangGraph: ``--threads`` concurrent threads in one process on ``AsyncPostgresSaver``
   (``durability="sync"``), no durable runtime: durable node-steps per second, and the
   process's CPU time per node-step;
3. fleet: ``--workers`` worker processes (``agent-graph worker --concurrency``), ``--threads``
   threads submitted at once: node-steps per second from submit to the last completion, the
   workers' CPU time per node-step (what bounds throughput once the cores are saturated, and
   far less sensitive than throughput to other load on the machine), and peak RSS (VmHWM) per
   worker; for stock and fleet, the CPU time of the ``postgres`` processes per node-step and the
   write transactions per node-step (every client's: queue, registry, checkpoints);
4. SIGKILL: one worker holding ``--kill-threads`` in-flight threads (nodes of 500 ms) is killed
   while another one idles: seconds until 95% / 100% of its threads run again on the other;
5. ``agent-graph submit --file`` of ``--submit`` keywords: wall time of the whole command.

Each phase runs on an empty database of its own, after a ``CHECKPOINT`` and once both cores are
at least 90% idle (the idle share seen is recorded per phase), and drops it when done: no phase
pays for the rows, dead tuples or autovacuum work of the one before. The 1-minute load average
is recorded at start and end: compare runs only at similar loads.

Usage::

    python bench/fleet.py [--threads 1000] [--workers 2] [--database-url URL] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import psycopg
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from agent_graph.fleet import build_synthetic_graph, setup_fleet_database, submit_keywords
from checkpointers import (
    create_database,
    drop_database,
    open_async_pool,
    resolve_dsn,
    with_database,
)

GRAPH = "agent_graph.fleet:open_synthetic_graph"


def _rows(dsn: str, query: Any, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    with psycopg.connect(dsn, autocommit=True, row_factory=dict_row) as conn:
        return conn.execute(query, params).fetchall()


def _wait(check: Any, timeout: float, what: str, interval: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(interval)


async def bench_stock(
    dsn: str,
    threads: int,
    steps: int,
    delay_ms: float,
    *,
    checkpointer: Literal["postgres", "memory", "none"] = "postgres",
) -> dict[str, Any]:
    kwargs = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}
    async with AsyncConnectionPool(dsn, kwargs=kwargs, max_size=20, open=False) as pool:
        saver: BaseCheckpointSaver[Any] | None = None
        if checkpointer == "postgres":
            saver = AsyncPostgresSaver(pool)  # type: ignore[arg-type]
            await saver.setup()
        elif checkpointer == "memory":
            saver = InMemorySaver()
        graph = build_synthetic_graph(steps, delay_ms).compile(checkpointer=saver)
        cpu_before = process_cpu_seconds(os.getpid())
        pg_before = postgres_cpu_seconds()
        xid_before = next_xid(dsn)
        began = time.monotonic()
        await asyncio.gather(
            *(
                graph.ainvoke(
                    {"keyword": f"s{i}", "count": 0},
                    {"configurable": {"thread_id": f"stock-{i}"}},
                    # LangGraph refuses a durability mode without a checkpointer
                    durability="sync" if saver is not None else None,
                )
                for i in range(threads)
            )
        )
        seconds = time.monotonic() - began
        cpu = process_cpu_seconds(os.getpid()) - cpu_before
        pg_cpu = postgres_cpu_seconds() - pg_before
        xids = next_xid(dsn) - xid_before
    return {
        "seconds": round(seconds, 2),
        "node_steps_per_s": round(threads * steps / seconds),
        "cpu_ms_per_step": round(1000 * cpu / (threads * steps), 3),
        "postgres_cpu_ms_per_step": round(1000 * pg_cpu / (threads * steps), 3),
        "write_commits_per_step": round(xids / (threads * steps), 3),
    }


class Workers:
    def __init__(self, dsn: str, env: dict[str, str], logs: Path) -> None:
        self.dsn = dsn
        self.env = env
        self.logs = logs
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, concurrency: int, **env: str) -> subprocess.Popen[bytes]:
        log = (self.logs / f"worker-{len(self.procs)}.log").open("wb")
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "agent_graph.fleet",
                "worker",
                "--graph",
                GRAPH,
                "--concurrency",
                str(concurrency),
            ],
            env={**self.env, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.procs.append(proc)
        _wait(lambda: self.registered(proc), 120, f"worker {proc.pid} to register")
        return proc

    def registered(self, proc: subprocess.Popen[bytes]) -> bool:
        if proc.poll() is not None:
            raise SystemExit(f"worker exited: {(self.logs / 'worker-0.log').read_text()[-2000:]}")
        rows = _rows(
            self.dsn,
            "SELECT 1 FROM agent_graph_workers WHERE owner LIKE %(p)s AND state = 'running' "
            "AND queue_worker IS NOT NULL",
            {"p": f"%:{proc.pid}"},
        )
        return bool(rows)

    def held_by(self, proc: subprocess.Popen[bytes]) -> int:
        rows = _rows(
            self.dsn,
            "SELECT count(*) AS n FROM procrastinate_jobs j JOIN agent_graph_workers w "
            "ON j.worker_id = w.queue_worker WHERE j.status = 'doing' AND w.owner LIKE %(p)s",
            {"p": f"%:{proc.pid}"},
        )
        return int(rows[0]["n"])

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.procs.clear()


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (from ``/proc/PID/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def next_xid(dsn: str) -> int:
    """The server's next transaction ID (read without taking one): the difference over a
    phase counts its write transactions, every client's included."""
    rows = _rows(dsn, "SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS x")
    return int(rows[0]["x"])


def postgres_cpu_seconds() -> float:
    """User + system CPU seconds of every ``postgres`` process on the machine (the server
    under test, plus any idle one): the database's share of a node-step's cost."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # the process ended meanwhile
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        if name == "postgres":
            fields = text.rpartition(")")[2].split()
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def completed(dsn: str, prefix: str) -> int:
    rows = _rows(
        dsn,
        "SELECT count(*) AS n FROM agent_graph_runs WHERE status = 'completed' "
        "AND thread_id LIKE %(p)s",
        {"p": f"{prefix}%"},
    )
    return int(rows[0]["n"])


async def _submit(dsn: str, keywords: list[str]) -> None:
    async with open_async_pool(dsn, max_size=2) as pool:
        await setup_fleet_database(pool)
        await submit_keywords(pool, keywords)


def bench_fleet(workers: Workers, args: argparse.Namespace) -> dict[str, Any]:
    per_worker = -(-args.threads // args.workers)
    procs = [workers.start(per_worker) for _ in range(args.workers)]
    cpu_before = sum(process_cpu_seconds(p.pid) for p in procs)
    pg_before = postgres_cpu_seconds()
    xid_before = next_xid(workers.dsn)
    began = time.monotonic()
    asyncio.run(_submit(workers.dsn, [f"tput {i}" for i in range(args.threads)]))
    _wait(lambda: completed(workers.dsn, "tput-") == args.threads, 900, "throughput run", 0.1)
    seconds = time.monotonic() - began
    cpu = sum(process_cpu_seconds(p.pid) for p in procs) - cpu_before
    pg_cpu = postgres_cpu_seconds() - pg_before
    xids = next_xid(workers.dsn) - xid_before
    rss = [peak_rss_mb(p.pid) for p in procs]
    workers.stop()
    starts = _rows(
        workers.dsn,
        "SELECT extract(epoch FROM max(at) - min(at))::float AS span FROM procrastinate_events "
        "WHERE type = 'started'",
    )
    return {
        "seconds": round(seconds, 2),
        "node_steps_per_s": round(args.threads * args.steps / seconds),
        # CPU of all workers per node-step: what bounds throughput on a saturated machine
        "worker_cpu_ms_per_step": round(1000 * cpu / (args.threads * args.steps), 3),
        "postgres_cpu_ms_per_step": round(1000 * pg_cpu / (args.threads * args.steps), 3),
        # every write transaction of the phase: the queue's, the registry's, the checkpoints'
        "write_commits_per_step": round(xids / (args.threads * args.steps), 3),
        "peak_rss_mb": rss,
        # seconds from the first job's start to the last one's: when it nears the whole run,
        # the queue's pace of thread starts, not CPU, bounds throughput
        "starts_span_s": round(float(starts[0]["span"]), 2),
    }


def bench_kill(workers: Workers, args: argparse.Namespace) -> dict[str, Any]:
    victim = workers.start(args.kill_threads, AGENT_GRAPH_SYNTHETIC_DELAY_MS="500")
    asyncio.run(_submit(workers.dsn, [f"kill {i}" for i in range(args.kill_threads)]))
    ids = [f"kill-{i}" for i in range(args.kill_threads)]

    def all_in_flight() -> bool:
        started = _rows(
            workers.dsn,
            "SELECT count(DISTINCT thread_id) AS n FROM agent_graph_events "
            "WHERE kind = 'node_completed' AND thread_id = ANY(%(t)s)",
            {"t": ids},
        )
        return workers.held_by(victim) == args.kill_threads and int(started[0]["n"]) == len(ids)

    _wait(all_in_flight, 120, "the victim to hold every thread")
    survivor = workers.start(args.kill_threads, AGENT_GRAPH_SYNTHETIC_DELAY_MS="500")
    victim.send_signal(signal.SIGKILL)
    killed_at = _rows(workers.dsn, "SELECT clock_timestamp() AS t")[0]["t"]
    victim.wait()

    def resumed() -> list[float]:
        rows = _rows(
            workers.dsn,
            "SELECT thread_id, extract(epoch FROM min(at) - %(k)s)::float8 AS s "
            "FROM agent_graph_events WHERE kind IN ('run_resumed', 'run_started') "
            "AND owner LIKE %(p)s AND thread_id = ANY(%(t)s) GROUP BY thread_id",
            {"k": killed_at, "p": f"%:{survivor.pid}", "t": ids},
        )
        return sorted(r["s"] for r in rows)

    times = _wait(lambda: len(t := resumed()) == len(ids) and t, 120, "every thread to resume")
    _wait(lambda: completed(workers.dsn, "kill-") == len(ids), 300, "killed threads to finish")
    workers.stop()
    return {
        "threads": len(ids),
        "p95_s": round(times[int(len(times) * 0.95) - 1], 2),
        "p100_s": round(times[-1], 2),
    }


def bench_submit(dsn: str, env: dict[str, str], count: int, logs: Path) -> dict[str, Any]:
    file = logs / "keywords.txt"
    file.write_text("\n".join(f"bulk keyword {i}" for i in range(count)) + "\n")
    began = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "agent_graph.fleet", "submit", "--file", str(file), "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.monotonic() - began
    reported = json.loads(proc.stdout)
    assert len(reported["queued"]) == count
    return {"keywords": count, "wall_s": round(wall, 2), "in_command_s": reported["seconds"]}


def settle(dsn: str, timeout: float = 60) -> float:
    """Let the machine go quiet before a phase: flush the server's dirty pages (``CHECKPOINT``),
    then wait (up to ``timeout``) until both cores are at least 90% idle over half a second.
    Returns the idle share seen last, recorded with the phase."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CHECKPOINT")
    deadline = time.monotonic() + timeout
    while True:
        idle = idle_share(0.5)
        if idle >= 0.9 or time.monotonic() > deadline:
            return round(idle, 2)


def idle_share(seconds: float) -> float:
    """Share of all cores' time spent idle over ``seconds`` (from ``/proc/stat``)."""

    def read() -> tuple[int, int]:
        fields = [int(f) for f in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        return fields[3] + fields[4], sum(fields)  # idle + iowait, total

    idle0, total0 = read()
    time.sleep(seconds)
    idle1, total1 = read()
    return (idle1 - idle0) / max(total1 - total0, 1)


#: One benchmark phase: runs on the database it is given, returns its figures.
Phase = Callable[[str], dict[str, Any]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--delay-ms", type=float, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--kill-threads", type=int, default=100)
    parser.add_argument("--submit", type=int, default=10_000)
    parser.add_argument("--pool-size", type=int, default=20)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument(
        "--skip", default="", help="comma-separated: none,memory,stock,fleet,kill,submit"
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    server = resolve_dsn(args.database_url)
    prefix = f"bench_fleet_{uuid.uuid4().hex[:8]}"
    logs = Path(tempfile.mkdtemp(prefix="bench-fleet-"))
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("AGENT_GRAPH_")}
    base_env.update(
        OPENAI_API_KEY="offline-bench",
        AGENT_GRAPH_SERVICES_URL="http://127.0.0.1:9",
        AGENT_GRAPH_SYNTHETIC_STEPS=str(args.steps),
        AGENT_GRAPH_SYNTHETIC_DELAY_MS=str(args.delay_ms),
        AGENT_GRAPH_POOL_SIZE=str(args.pool_size),
        AGENT_GRAPH_HEARTBEAT_SECONDS=os.environ.get("BENCH_RUN_HEARTBEAT", "2"),
    )
    results: dict[str, Any] = {
        "threads": args.threads,
        "steps": args.steps,
        "load_average_at_start": round(os.getloadavg()[0], 2),
    }

    def stock_phase(kind: Literal["postgres", "memory", "none"]) -> Phase:
        def run(dsn: str) -> dict[str, Any]:
            return asyncio.run(
                bench_stock(dsn, args.threads, args.steps, args.delay_ms, checkpointer=kind)
            )

        return run

    def worker_phase(bench: Callable[[Workers, argparse.Namespace], dict[str, Any]]) -> Phase:
        def run(dsn: str) -> dict[str, Any]:
            workers = Workers(dsn, {**base_env, "DATABASE_URL": dsn}, logs)
            try:
                return bench(workers, args)
            finally:
                workers.stop()

        return run

    def submit_phase(dsn: str) -> dict[str, Any]:
        return bench_submit(dsn, {**base_env, "DATABASE_URL": dsn}, args.submit, logs)

    phases: dict[str, Phase] = {
        "none": stock_phase("none"),
        "memory": stock_phase("memory"),
        "stock": stock_phase("postgres"),
        "fleet": worker_phase(bench_fleet),
        "kill": worker_phase(bench_kill),
        "submit": submit_phase,
    }
    for phase, run in phases.items():
        if phase in skip:
            continue
        # every phase on an empty database of its own, after the machine has gone quiet; the
        # database is dropped at once, so that its autovacuum cannot run during a later phase
        name = f"{prefix}_{phase}"
        create_database(server, name)
        try:
            dsn = with_database(server, name)
            asyncio.run(_submit(dsn, []))  # schema: ours, the checkpointer's, Procrastinate's
            results.setdefault("idle_before", {})[phase] = settle(dsn)
            results[phase] = run(dsn)
        finally:
            drop_database(server, name)
        print(phase, results[phase], flush=True)
    results["load_average_at_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
