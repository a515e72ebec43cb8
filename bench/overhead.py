"""Per-node-step durability overhead: no checkpointer vs stock AsyncPostgresSaver vs our runtime.

One process, one linear graph of ``--steps`` trivial async nodes, measured under:

- ``none``: no checkpointer, ``ainvoke`` (the 1.00x baseline);
- ``stock``: langgraph's ``AsyncPostgresSaver`` over a psycopg pool (autocommit,
  ``prepare_threshold=0``, ``dict_row``), ``durability="sync"``;
- ``ours-graph``: ``Runtime.runner(...).graph.ainvoke(..., durability="sync")`` (every node
  wrapped by ``make_durable``, events logged, ``DurableSaver``);
- ``ours-runner``: ``Runner.start(thread_id, input)`` (adds the run registry and run events).

Every run uses a fresh thread ID. Configurations are interleaved run by run (rotating order) so
that drift of the machine hits all of them alike. Reported: median over runs of (run time /
steps), ratios against ``none`` and ``stock``.

Database work is counted from ``pg_stat_database`` of a dedicated benchmark database: each
Postgres configuration is opened fresh, runs a small and a large batch, is closed (a backend
flushes its statistics when it exits), and the difference between the two batches, divided by
the extra node-steps, gives commits and inserted rows per node-step without the fixed cost of
opening a pool and setting up the schema.

Usage::

    python bench/overhead.py [--runs 100] [--steps 20] [--database-url URL] [--json out.json]

Without ``--database-url`` (or ``DATABASE_URL``) the embedded server is used.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, TypedDict

import psycopg
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.graph import END, START, StateGraph
from psycopg import pq
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from agent_graph import Settings, open_runtime
from checkpointers import (
    create_database,
    drop_database,
    open_async_pool,
    redact_dsn,
    resolve_dsn,
    setup_database,
    with_database,
)

RunOnce = Callable[[str], Awaitable[None]]
ConfigFactory = Callable[[str, int], contextlib.AbstractAsyncContextManager[RunOnce]]

PAYLOAD = "x" * 256


class BenchState(TypedDict):
    """State of the benchmark graph: a counter every node bumps, and a small payload."""

    counter: int
    payload: str


async def _bump(state: BenchState) -> dict[str, int]:
    return {"counter": state["counter"] + 1}


def build_graph(steps: int) -> StateGraph[BenchState, Any, BenchState, BenchState]:
    """A linear graph ``n0 -> n1 -> ... -> n{steps-1}`` of trivial async nodes."""
    builder: StateGraph[BenchState, Any, BenchState, BenchState] = StateGraph(BenchState)
    names = [f"n{i}" for i in range(steps)]
    for name in names:
        builder.add_node(name, _bump)
    builder.add_edge(START, names[0])
    for first, second in itertools.pairwise(names):
        builder.add_edge(first, second)
    builder.add_edge(names[-1], END)
    return builder


def _input() -> BenchState:
    return {"counter": 0, "payload": PAYLOAD}


def _check(result: Any, steps: int) -> None:
    if result["counter"] != steps:
        raise RuntimeError(f"graph ran {result['counter']} steps, expected {steps}")


# --- configurations: each yields "run the graph once on this thread ID" -----------------------


@contextlib.asynccontextmanager
async def no_checkpointer(dsn: str, steps: int) -> AsyncIterator[RunOnce]:
    graph = build_graph(steps).compile()

    async def run(thread_id: str) -> None:
        _check(await graph.ainvoke(_input()), steps)

    yield run


@contextlib.asynccontextmanager
async def stock_saver(dsn: str, steps: int) -> AsyncIterator[RunOnce]:
    kwargs: dict[str, Any] = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        dsn, kwargs=kwargs, min_size=1, max_size=4, open=False
    )
    await pool.open(wait=True)
    try:
        graph = build_graph(steps).compile(checkpointer=AsyncPostgresSaver(pool))

        async def run(thread_id: str) -> None:
            config: Any = {"configurable": {"thread_id": thread_id}}
            _check(await graph.ainvoke(_input(), config, durability="sync"), steps)

        yield run
    finally:
        await pool.close()


@contextlib.asynccontextmanager
async def ours_graph(dsn: str, steps: int) -> AsyncIterator[RunOnce]:
    async with open_runtime(Settings(database_url=dsn, pool_size=4)) as rt:
        graph = rt.runner(build_graph(steps), name="bench").graph

        async def run(thread_id: str) -> None:
            config: Any = {"configurable": {"thread_id": thread_id}}
            _check(await graph.ainvoke(_input(), config, durability="sync"), steps)

        yield run


@contextlib.asynccontextmanager
async def ours_runner(dsn: str, steps: int) -> AsyncIterator[RunOnce]:
    async with open_runtime(Settings(database_url=dsn, pool_size=4)) as rt:
        runner = rt.runner(build_graph(steps), name="bench")

        async def run(thread_id: str) -> None:
            status = await runner.start(thread_id, _input())
            if status.status != "completed":
                raise RuntimeError(f"runner ended {status.status}: {status.error}")
            _check(status.result, steps)

        yield run


CONFIGS: dict[str, tuple[str, ConfigFactory]] = {
    "none": ("no checkpointer, ainvoke", no_checkpointer),
    "stock": ('stock AsyncPostgresSaver, durability="sync"', stock_saver),
    "ours-graph": ('ours: runner.graph.ainvoke, durability="sync"', ours_graph),
    "ours-runner": ("ours: runner.start (incl. run registry)", ours_runner),
}


# --- measurement ------------------------------------------------------------------------------


@dataclass
class DbWork:
    """Database work per node-step of one configuration."""

    commits: float
    inserts: float
    statements: float
    round_trips: float


@dataclass
class Result:
    """Figures of one configuration (times in microseconds per node-step)."""

    key: str
    label: str
    samples_us: list[float] = field(default_factory=list)
    db: DbWork | None = None

    @property
    def median_us(self) -> float:
        return statistics.median(self.samples_us)

    def quantile_us(self, q: float) -> float:
        ordered = sorted(self.samples_us)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _thread_id(key: str) -> str:
    return f"bench-{key}-{uuid.uuid4().hex[:16]}"


async def time_all(
    dsn: str, keys: list[str], runs: int, warmup: int, steps: int
) -> dict[str, Result]:
    """Time every configuration in one process, interleaved run by run."""
    results = {key: Result(key, CONFIGS[key][0]) for key in keys}
    async with contextlib.AsyncExitStack() as stack:
        runners = {
            key: await stack.enter_async_context(CONFIGS[key][1](dsn, steps)) for key in keys
        }
        for key in keys:
            for _ in range(warmup):
                await runners[key](_thread_id(key))
        for index in range(runs):
            shift = index % len(keys)
            for key in keys[shift:] + keys[:shift]:
                thread_id = _thread_id(key)
                started = time.perf_counter()
                await runners[key](thread_id)
                elapsed = time.perf_counter() - started
                results[key].samples_us.append(elapsed / steps * 1e6)
    return results


async def _db_counters(monitor: psycopg.AsyncConnection[Any], database: str) -> tuple[int, int]:
    """(commits, inserted rows) of ``database``, once none of its backends is left."""
    deadline = time.monotonic() + 15.0
    while True:
        cur = await monitor.execute(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = %s", (database,)
        )
        row = await cur.fetchone()
        if row is not None and row["n"] == 0:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"sessions on {database} did not end")
        await asyncio.sleep(0.05)
    await monitor.execute("SELECT pg_stat_clear_snapshot()")
    cur = await monitor.execute(
        "SELECT xact_commit, tup_inserted FROM pg_stat_database WHERE datname = %s", (database,)
    )
    row = await cur.fetchone()
    assert row is not None
    return int(row["xact_commit"]), int(row["tup_inserted"])


@contextlib.contextmanager
def traced_connections(directory: Path) -> Iterator[None]:
    """Trace the client/server protocol of every async connection opened inside the block.

    Each connection writes libpq's trace to its own file in ``directory``; the benchmark's
    pools open their connections through ``AsyncConnection.connect``.
    """
    original = psycopg.AsyncConnection.connect
    unbound = original.__func__  # type: ignore[attr-defined]

    async def connect(cls: Any, *args: Any, **kwargs: Any) -> Any:
        conn = await unbound(cls, *args, **kwargs)
        stream = (directory / f"{uuid.uuid4().hex}.trace").open("w")
        conn.pgconn.trace(stream.fileno())
        conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        conn.__dict__["_bench_trace"] = stream  # keeps the file open as long as the connection
        return conn

    psycopg.AsyncConnection.connect = classmethod(connect)  # type: ignore[assignment,method-assign]
    try:
        yield
    finally:
        psycopg.AsyncConnection.connect = original  # type: ignore[method-assign]


def _protocol_counts(directory: Path) -> Counter[str]:
    """Frontend and backend messages by type over all trace files in ``directory``."""
    counts: Counter[str] = Counter()
    for path in directory.glob("*.trace"):
        for line in path.read_text().splitlines():
            parts = line.split("\t")
            if len(parts) > 2 and parts[2]:
                counts[f"{parts[0]}:{parts[2].split()[0]}"] += 1
    return counts


async def count_db_work(
    dsn: str,
    monitor: psycopg.AsyncConnection[Any],
    database: str,
    key: str,
    steps: int,
    batches: tuple[int, int] = (2, 12),
) -> DbWork:
    """Database work per node-step of one configuration: the difference between a small and a
    large batch, so that opening the pool and the schema check cancel out.

    Commits and inserted rows come from ``pg_stat_database``; statements (Execute + simple
    Query messages) and round trips (ReadyForQuery messages, one per synchronisation point)
    from a libpq protocol trace of the configuration's connections.
    """
    totals: list[tuple[int, int, int, int]] = []
    for batch in batches:
        before = await _db_counters(monitor, database)
        with tempfile.TemporaryDirectory() as tmp, traced_connections(Path(tmp)):
            async with CONFIGS[key][1](dsn, steps) as run:
                for _ in range(batch):
                    await run(_thread_id(key))
            messages = _protocol_counts(Path(tmp))
        after = await _db_counters(monitor, database)
        statements = messages["F:Execute"] + messages["F:Query"]
        trips = messages["B:ReadyForQuery"]
        totals.append((after[0] - before[0], after[1] - before[1], statements, trips))
    extra_steps = (batches[1] - batches[0]) * steps
    per_step = [(large - small) / extra_steps for small, large in zip(*totals, strict=True)]
    return DbWork(*per_step)


# --- reporting --------------------------------------------------------------------------------


def environment(server_version: str, dsn: str) -> dict[str, Any]:
    """Versions and machine facts printed above the table."""

    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "?"

    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "langgraph": version("langgraph"),
        "langgraph-checkpoint-postgres": version("langgraph-checkpoint-postgres"),
        "psycopg": version("psycopg"),
        "postgres": server_version,
        "loadavg": "/".join(f"{x:.2f}" for x in os.getloadavg()),
        "database_url": redact_dsn(dsn),
    }


def table(results: dict[str, Result], steps: int) -> str:
    """The results as a Markdown table."""
    base = results["none"].median_us if "none" in results else None
    stock = results["stock"].median_us if "stock" in results else None
    lines = [
        "Database columns are per node-step.",
        "",
        f"| configuration ({steps} nodes) | us / node-step (median) | p10-p90 | vs none "
        "| vs stock | added ms / node-step | commits | statements | round trips | rows inserted |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results.values():
        median = r.median_us
        ratio = f"{median / base:.2f}x" if base else "-"
        vs_stock = f"{median / stock:.2f}x" if stock else "-"
        added = f"{(median - base) / 1000:+.2f}" if base else "-"
        db = (
            f"{r.db.commits:.2f} | {r.db.statements:.2f} | {r.db.round_trips:.2f} "
            f"| {r.db.inserts:.2f}"
            if r.db
            else "- | - | - | -"
        )
        spread = f"{r.quantile_us(0.1):.0f}-{r.quantile_us(0.9):.0f}"
        lines.append(
            f"| {r.label} | {median:.0f} | {spread} | {ratio} | {vs_stock} | {added} | {db} |"
        )
    return "\n".join(lines)


# --- main -------------------------------------------------------------------------------------


async def main(args: argparse.Namespace) -> dict[str, Any]:
    """Run the benchmark, print the table, return the raw results."""
    keys = list(CONFIGS)
    server = await asyncio.to_thread(resolve_dsn, args.database_url)
    database = f"agent_graph_bench_{os.getpid()}"
    await asyncio.to_thread(create_database, server, database)
    try:
        dsn = with_database(server, database)
        async with open_async_pool(dsn, max_size=1) as pool:
            await setup_database(pool)
        monitor = await psycopg.AsyncConnection.connect(
            server, autocommit=True, row_factory=dict_row
        )
        async with monitor:
            cur = await monitor.execute("SHOW server_version")
            row = await cur.fetchone()
            env = environment(str(row["server_version"]) if row else "?", server)
            print(" ".join(f"{k}={v}" for k, v in env.items()), flush=True)
            results = await time_all(dsn, keys, args.runs, args.warmup, args.steps)
            results["none"].db = DbWork(0.0, 0.0, 0.0, 0.0)
            for key in keys[1:]:
                results[key].db = await count_db_work(dsn, monitor, database, key, args.steps)
    finally:
        await asyncio.to_thread(drop_database, server, database)
    load = "/".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\n{args.runs} runs x {args.steps} node-steps each, {args.warmup} warm-up runs")
    print(f"load average at the end: {load}\n")
    print(table(results, args.steps))
    return {
        "environment": env,
        "runs": args.runs,
        "steps": args.steps,
        "warmup": args.warmup,
        "results": {
            key: {
                "label": r.label,
                "median_us_per_step": r.median_us,
                "db_work_per_step": asdict(r.db) if r.db else None,
                "samples_us_per_step": r.samples_us,
            }
            for key, r in results.items()
        },
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=100, help="timed runs per configuration")
    parser.add_argument("--warmup", type=int, default=5, help="untimed runs per configuration")
    parser.add_argument("--steps", type=int, default=20, help="nodes in the linear graph")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL"),
        help="server to use (default: DATABASE_URL, else the embedded server)",
    )
    parser.add_argument("--json", metavar="PATH", help="also write raw results here")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.steps < 1 or args.warmup < 0:
        parser.error("--runs and --steps must be positive, --warmup non-negative")
    return args


if __name__ == "__main__":
    options = parse_args()
    raw = asyncio.run(main(options))
    if options.json:
        Path(options.json).write_text(json.dumps(raw, indent=2) + "\n")
    sys.exit(0)
