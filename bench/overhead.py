"""Per-node-step durability overhead: no checkpointer vs stock AsyncPostgresSaver vs our runtime.

One process, one linear graph of ``--steps`` async nodes, measured under:

- ``none``: no checkpointer, ``ainvoke`` (the 1.00x baseline);
- ``stock``: langgraph's ``AsyncPostgresSaver`` over a psycopg pool (autocommit,
  ``prepare_threshold=0``, ``dict_row``), ``durability="sync"``;
- ``ours-graph``: ``Runtime.runner(...).graph.ainvoke(..., durability="sync")`` (every node
  wrapped by ``make_durable``, events logged, ``DurableSaver``);
- ``ours-runner``: ``Runner.start(thread_id, input)`` (adds the run registry and run events);

and the same three ways (none, stock, ours-graph) with nodes that do durable work of ours:

- ``*-effect``: each node also performs a free side effect, through ``agent_graph.effect`` (the
  idempotency ledger) in ours, called directly otherwise;
- ``*-llm``: each node makes one chat completion against the offline provider (started by the
  script, no latency) and then the side effect: ``JournaledChatOpenAI`` (the LLM journal) in
  ours, stock ``ChatOpenAI`` otherwise. Its ``none`` row carries the provider call, so
  "added" time of the stock and ours rows is net of it.

Every run uses a fresh thread ID. With ``--concurrency N`` a run is N fresh threads in flight at
once (how a fleet worker runs them), and its time per node-step is its wall time over all N x
steps node-steps. Configurations are interleaved run by run (rotating order) so that drift of
the machine hits all of them alike. Reported: median over runs of (run time / node-steps),
ratios against the ``none`` and ``stock`` rows of the same node kind, and whether each of our
configurations meets the target (write commits per node-step and added time at most stock's;
read-only transactions, which flush nothing to disk, are shown apart).

Database work is counted from ``pg_stat_database`` of a dedicated benchmark database: each
Postgres configuration is opened fresh, runs a small and a large batch, is closed (a backend
flushes its statistics when it exits), and the difference between the two batches, divided by
the extra node-steps, gives commits and inserted rows per node-step without the fixed cost of
opening a pool and setting up the schema. ``xact_commit`` counts read-only transactions too;
"write commits" are the transaction IDs assigned meanwhile (server-wide, so nothing else should
write to the server during the run).

Usage::

    python bench/overhead.py [--runs 100] [--steps 20] [--concurrency 1] [--database-url URL]
                             [--json out.json] [--only CONFIG ...]

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
from typing import Any, Literal, TypedDict

import psycopg
from langchain_core.messages import HumanMessage
from langchain_openai import ChatOpenAI
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.graph import END, START, StateGraph
from psycopg import pq
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool
from pydantic import SecretStr

from agent_graph import Settings, effect, open_runtime
from agent_graph.llm import JournaledChatOpenAI
from agent_graph.provider import BackgroundProvider
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
NodeKind = Literal["plain", "effect", "llm"]
PAYLOAD = "x" * 256
MODEL = "gpt-4o-mini"


@dataclass(frozen=True)
class BenchSetup:
    """What every configuration is given: the database, the graph length, the provider."""

    dsn: str
    steps: int
    llm_url: str | None
    """OpenAI base URL of the offline provider (only the ``llm`` configurations use it)."""


ConfigFactory = Callable[[BenchSetup], contextlib.AbstractAsyncContextManager[RunOnce]]


class BenchState(TypedDict):
    """State of the benchmark graph: a counter every node bumps, and a small payload."""

    counter: int
    payload: str


async def _bump(state: BenchState) -> dict[str, int]:
    return {"counter": state["counter"] + 1}


async def _act(key: str) -> dict[str, str]:
    """The side effect of the ``effect`` nodes: free, so only its bookkeeping is measured."""
    return {"receipt": key[:12]}


def _node(kind: NodeKind, *, durable: bool, llm: ChatOpenAI | None) -> Callable[..., Any]:
    """A node of the given kind; ``durable`` nodes go through our ledger (and journal)."""
    if kind == "plain":
        return _bump

    async def node(state: BenchState) -> dict[str, int]:
        counter = state["counter"]
        if llm is not None:
            await llm.ainvoke([HumanMessage(f"step {counter}: one word")])
        if durable:
            await effect("bump", _act, content={"counter": counter})
        else:
            await _act(f"bump-{counter}")
        return {"counter": counter + 1}

    return node


def build_graph(
    steps: int, kind: NodeKind = "plain", *, durable: bool = False, llm: ChatOpenAI | None = None
) -> StateGraph[BenchState, Any, BenchState, BenchState]:
    """A linear graph ``n0 -> n1 -> ... -> n{steps-1}`` of async nodes of one kind.

    ``plain`` nodes bump the counter; ``effect`` nodes also perform a (free) side effect, through
    :func:`agent_graph.effect` when ``durable``; ``llm`` nodes make one chat completion with
    ``llm`` and then perform the side effect.
    """
    builder: StateGraph[BenchState, Any, BenchState, BenchState] = StateGraph(BenchState)
    names = [f"n{i}" for i in range(steps)]
    for name in names:
        builder.add_node(name, _node(kind, durable=durable, llm=llm))
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


def _chat(cls: type[ChatOpenAI], setup: BenchSetup) -> ChatOpenAI:
    if setup.llm_url is None:
        raise RuntimeError("the llm configurations need the offline provider")
    return cls(model=MODEL, base_url=setup.llm_url, api_key=SecretStr("offline"), max_retries=2)


# --- configurations: each yields "run the graph once on this thread ID" -----------------------


def no_checkpointer(kind: NodeKind) -> ConfigFactory:
    """No checkpointer, ``ainvoke``."""

    @contextlib.asynccontextmanager
    async def config(setup: BenchSetup) -> AsyncIterator[RunOnce]:
        llm = _chat(ChatOpenAI, setup) if kind == "llm" else None
        graph = build_graph(setup.steps, kind, llm=llm).compile()

        async def run(thread_id: str) -> None:
            _check(await graph.ainvoke(_input()), setup.steps)

        yield run

    return config


def stock_saver(kind: NodeKind) -> ConfigFactory:
    """Stock ``AsyncPostgresSaver``, ``durability="sync"``, plain ``ChatOpenAI``."""

    @contextlib.asynccontextmanager
    async def config(setup: BenchSetup) -> AsyncIterator[RunOnce]:
        kwargs: dict[str, Any] = {
            "autocommit": True,
            "prepare_threshold": 0,
            "row_factory": dict_row,
        }
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            setup.dsn, kwargs=kwargs, min_size=1, max_size=4, open=False
        )
        await pool.open(wait=True)
        try:
            llm = _chat(ChatOpenAI, setup) if kind == "llm" else None
            builder = build_graph(setup.steps, kind, llm=llm)
            graph = builder.compile(checkpointer=AsyncPostgresSaver(pool))

            async def run(thread_id: str) -> None:
                config: Any = {"configurable": {"thread_id": thread_id}}
                _check(await graph.ainvoke(_input(), config, durability="sync"), setup.steps)

            yield run
        finally:
            await pool.close()

    return config


def ours_graph(kind: NodeKind) -> ConfigFactory:
    """Our runtime, ``runner.graph.ainvoke``; ledger and journal in use by ``effect``/``llm``."""

    @contextlib.asynccontextmanager
    async def config(setup: BenchSetup) -> AsyncIterator[RunOnce]:
        async with open_runtime(Settings(database_url=setup.dsn, pool_size=4)) as rt:
            llm = _chat(JournaledChatOpenAI, setup) if kind == "llm" else None
            builder = build_graph(setup.steps, kind, durable=True, llm=llm)
            graph = rt.runner(builder, name="bench").graph

            async def run(thread_id: str) -> None:
                config: Any = {"configurable": {"thread_id": thread_id}}
                _check(await graph.ainvoke(_input(), config, durability="sync"), setup.steps)

            yield run

    return config


@contextlib.asynccontextmanager
async def ours_runner(setup: BenchSetup) -> AsyncIterator[RunOnce]:
    async with open_runtime(Settings(database_url=setup.dsn, pool_size=4)) as rt:
        runner = rt.runner(build_graph(setup.steps), name="bench")

        async def run(thread_id: str) -> None:
            status = await runner.start(thread_id, _input())
            if status.status != "completed":
                raise RuntimeError(f"runner ended {status.status}: {status.error}")
            _check(status.result, setup.steps)

        yield run


@dataclass(frozen=True)
class Config:
    """One measured configuration: its label, its node kind and its role in comparisons."""

    label: str
    kind: NodeKind
    role: Literal["none", "stock", "ours"]
    factory: ConfigFactory


CONFIGS: dict[str, Config] = {
    "none": Config("no checkpointer, ainvoke", "plain", "none", no_checkpointer("plain")),
    "stock": Config(
        'stock AsyncPostgresSaver, durability="sync"', "plain", "stock", stock_saver("plain")
    ),
    "ours-graph": Config(
        'ours: runner.graph.ainvoke, durability="sync"', "plain", "ours", ours_graph("plain")
    ),
    "ours-runner": Config("ours: runner.start (incl. run registry)", "plain", "ours", ours_runner),
    "none-effect": Config(
        "effect nodes, no checkpointer", "effect", "none", no_checkpointer("effect")
    ),
    "stock-effect": Config("effect nodes, stock saver", "effect", "stock", stock_saver("effect")),
    "ours-effect": Config(
        "effect nodes, ours (ledger + events)", "effect", "ours", ours_graph("effect")
    ),
    "none-llm": Config(
        "LLM + effect nodes, no checkpointer (ChatOpenAI)", "llm", "none", no_checkpointer("llm")
    ),
    "stock-llm": Config(
        "LLM + effect nodes, stock saver (ChatOpenAI)", "llm", "stock", stock_saver("llm")
    ),
    "ours-llm": Config(
        "LLM + effect nodes, ours (journal + ledger + events)", "llm", "ours", ours_graph("llm")
    ),
}


# --- measurement ------------------------------------------------------------------------------


@dataclass
class DbWork:
    """Database work per node-step of one configuration."""

    commits: float
    inserts: float
    statements: float
    round_trips: float
    writes: float
    """Transactions that wrote (transaction IDs assigned); ``commits`` counts reads too."""


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


async def _run_many(run: RunOnce, key: str, concurrency: int) -> None:
    """``concurrency`` fresh threads of one configuration, all in flight at once."""
    if concurrency == 1:
        await run(_thread_id(key))
        return
    await asyncio.gather(*(run(_thread_id(key)) for _ in range(concurrency)))


async def time_all(
    setup: BenchSetup, keys: list[str], runs: int, warmup: int, concurrency: int = 1
) -> dict[str, Result]:
    """Time every configuration in one process, interleaved run by run; a run is
    ``concurrency`` threads in flight at once, and its time per node-step is its wall time
    over all their node-steps."""
    steps = setup.steps * concurrency
    results = {key: Result(key, CONFIGS[key].label) for key in keys}
    async with contextlib.AsyncExitStack() as stack:
        runners = {
            key: await stack.enter_async_context(CONFIGS[key].factory(setup)) for key in keys
        }
        for key in keys:
            for _ in range(warmup):
                await _run_many(runners[key], key, concurrency)
        for index in range(runs):
            shift = index % len(keys)
            for key in keys[shift:] + keys[:shift]:
                started = time.perf_counter()
                await _run_many(runners[key], key, concurrency)
                elapsed = time.perf_counter() - started
                results[key].samples_us.append(elapsed / steps * 1e6)
    return results


async def _db_counters(
    monitor: psycopg.AsyncConnection[Any], database: str
) -> tuple[int, int, int]:
    """(commits, inserted rows, next transaction ID) of ``database``, once none of its backends
    is left. Only writing transactions take a transaction ID (server-wide: run the benchmark on
    a server nothing else writes to)."""
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
        "SELECT xact_commit, tup_inserted, "
        "pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS next_xid "
        "FROM pg_stat_database WHERE datname = %s",
        (database,),
    )
    row = await cur.fetchone()
    assert row is not None
    return int(row["xact_commit"]), int(row["tup_inserted"]), int(row["next_xid"])


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
    setup: BenchSetup,
    monitor: psycopg.AsyncConnection[Any],
    database: str,
    key: str,
    batches: tuple[int, int] = (2, 12),
    concurrency: int = 1,
) -> DbWork:
    """Database work per node-step of one configuration: the difference between a small and a
    large batch, so that opening the pool and the schema check cancel out.

    Commits and inserted rows come from ``pg_stat_database``; statements (Execute + simple
    Query messages) and round trips (ReadyForQuery messages, one per synchronisation point)
    from a libpq protocol trace of the configuration's connections. Each batch is that many
    runs of ``concurrency`` threads in flight at once, like the timed runs.
    """
    totals: list[tuple[int, int, int, int, int]] = []
    for batch in batches:
        before = await _db_counters(monitor, database)
        with tempfile.TemporaryDirectory() as tmp, traced_connections(Path(tmp)):
            async with CONFIGS[key].factory(setup) as run:
                for _ in range(batch):
                    await _run_many(run, key, concurrency)
            messages = _protocol_counts(Path(tmp))
        after = await _db_counters(monitor, database)
        statements = messages["F:Execute"] + messages["F:Query"]
        trips = messages["B:ReadyForQuery"]
        commits, inserts, xids = (a - b for a, b in zip(after, before, strict=True))
        totals.append((commits, inserts, statements, trips, xids))
    extra_steps = (batches[1] - batches[0]) * setup.steps * concurrency
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


def _reference(results: dict[str, Result], kind: NodeKind, role: str) -> Result | None:
    for r in results.values():
        if CONFIGS[r.key].kind == kind and CONFIGS[r.key].role == role:
            return r
    return None


def table(results: dict[str, Result], steps: int) -> str:
    """The results as a Markdown table; ratios against the no-checkpointer and stock rows of
    the same node kind, added time against the no-checkpointer row of the same kind."""
    lines = [
        "Database columns are per node-step; ratios and added time are against the rows of the "
        "same node kind.",
        "",
        f"| configuration ({steps} nodes) | us / node-step (median) | p10-p90 | vs none "
        "| vs stock | added ms / node-step | commits | write commits | statements | round trips "
        "| rows inserted |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results.values():
        none = _reference(results, CONFIGS[r.key].kind, "none")
        stock = _reference(results, CONFIGS[r.key].kind, "stock")
        median = r.median_us
        ratio = f"{median / none.median_us:.2f}x" if none else "-"
        vs_stock = f"{median / stock.median_us:.2f}x" if stock else "-"
        added = f"{(median - none.median_us) / 1000:+.2f}" if none else "-"
        db = (
            f"{r.db.commits:.2f} | {r.db.writes:.2f} | {r.db.statements:.2f} "
            f"| {r.db.round_trips:.2f} | {r.db.inserts:.2f}"
            if r.db
            else "- | - | - | - | -"
        )
        spread = f"{r.quantile_us(0.1):.0f}-{r.quantile_us(0.9):.0f}"
        lines.append(
            f"| {r.label} | {median:.0f} | {spread} | {ratio} | {vs_stock} | {added} | {db} |"
        )
    return "\n".join(lines)


def target(results: dict[str, Result]) -> str:
    """Each of our configurations against the target: no more write commits per node-step than
    stock (a commit that flushes to disk; read-only transactions are shown apart), and no more
    added time per node-step than stock's (both against the same node kind)."""
    lines = ["Target: write commits <= stock's, added time <= stock's (same node kind).", ""]
    for r in results.values():
        if CONFIGS[r.key].role != "ours":
            continue
        kind = CONFIGS[r.key].kind
        none = _reference(results, kind, "none")
        stock = _reference(results, kind, "stock")
        if none is None or stock is None or r.db is None or stock.db is None:
            continue
        ours_added = (r.median_us - none.median_us) / 1000
        stock_added = (stock.median_us - none.median_us) / 1000
        commits_ok = r.db.writes <= stock.db.writes + 1e-9
        time_ok = ours_added <= stock_added
        lines.append(
            f"- {r.label}: write commits {r.db.writes:.2f} vs {stock.db.writes:.2f} "
            f"({'met' if commits_ok else 'missed'}; with read-only ones {r.db.commits:.2f} vs "
            f"{stock.db.commits:.2f}); added {ours_added:+.2f} ms vs "
            f"{stock_added:+.2f} ms ({'met' if time_ok else 'missed'}, "
            f"{ours_added / stock_added if stock_added > 0 else float('nan'):.2f}x)"
        )
    return "\n".join(lines)


# --- main -------------------------------------------------------------------------------------


@contextlib.contextmanager
def _provider(keys: list[str]) -> Iterator[str | None]:
    """The offline provider's OpenAI URL while the ``llm`` configurations run (else None)."""
    if not any(CONFIGS[k].kind == "llm" for k in keys):
        yield None
        return
    with BackgroundProvider() as provider:
        yield provider.openai_base_url


async def main(args: argparse.Namespace) -> dict[str, Any]:
    """Run the benchmark, print the table, return the raw results."""
    keys = [k for k in CONFIGS if args.only is None or k in args.only]
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
            with _provider(keys) as llm_url:
                setup = BenchSetup(dsn, args.steps, llm_url)
                results = await time_all(setup, keys, args.runs, args.warmup, args.concurrency)
                for key in keys:
                    if CONFIGS[key].role == "none":
                        results[key].db = DbWork(0.0, 0.0, 0.0, 0.0, 0.0)
                    else:
                        results[key].db = await count_db_work(
                            setup, monitor, database, key, concurrency=args.concurrency
                        )
    finally:
        await asyncio.to_thread(drop_database, server, database)
    load = "/".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"\n{args.runs} runs of {args.concurrency} concurrent thread(s) x {args.steps} "
        f"node-steps each, {args.warmup} warm-up runs"
    )
    print(f"load average at the end: {load}\n")
    print(table(results, args.steps))
    print()
    print(target(results))
    return {
        "environment": env,
        "runs": args.runs,
        "concurrency": args.concurrency,
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
        "--concurrency",
        type=int,
        default=1,
        help="threads in flight at once in each run (1: one sequential thread)",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL"),
        help="server to use (default: DATABASE_URL, else the embedded server)",
    )
    parser.add_argument("--json", metavar="PATH", help="also write raw results here")
    parser.add_argument(
        "--only", nargs="+", choices=list(CONFIGS), help="measure these configurations only"
    )
    args = parser.parse_args(argv)
    if args.runs < 1 or args.steps < 1 or args.concurrency < 1 or args.warmup < 0:
        parser.error("--runs, --steps and --concurrency must be positive, --warmup non-negative")
    return args


if __name__ == "__main__":
    options = parse_args()
    raw = asyncio.run(main(options))
    if options.json:
        Path(options.json).write_text(json.dumps(raw, indent=2) + "\n")
    sys.exit(0)
