"""Fleet commands of ``agent-graph``: submit, worker, fleet, llm-limit."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from checkpointers import open_async_pool, resolve_dsn
from policies._errors import ConfigurationError

from ..fleet import (
    LlmLimiter,
    WorkerOptions,
    fleet_status,
    run_worker,
    setup_fleet_database,
    submit_keywords,
)
from ._common import execute, settings_from_env
from ._output import out, print_json

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]


def register(app: typer.Typer) -> None:
    """Add the ``submit``, ``worker`` and ``fleet`` commands to ``app``."""
    app.command("submit")(submit)
    app.command("worker")(worker)
    app.command("fleet")(fleet)
    app.command("llm-limit")(llm_limit)


def _read_keywords(keywords: list[str], file: Path | None) -> list[str]:
    found = list(keywords)
    if file is not None:
        try:
            text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigurationError(
                f"cannot read {file}: {exc.strerror}", hint="give a readable file"
            ) from None
        found += [line.strip() for line in text.splitlines() if line.strip()]
    if not found:
        raise ConfigurationError("no keyword given", hint="pass keywords or --file KEYWORDS.txt")
    return found


def submit(
    keywords: Annotated[list[str] | None, typer.Argument(help="Keywords to write about.")] = None,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="Keywords, one per line ('-': stdin).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Queue one thread per keyword for the workers and return at once."""

    async def main() -> None:
        settings = settings_from_env()
        words = _read_keywords(keywords or [], file)
        began = time.monotonic()
        dsn = await asyncio.to_thread(
            resolve_dsn, settings.database_url, data_dir=settings.data_dir
        )
        async with open_async_pool(dsn, max_size=2) as pool:
            await setup_fleet_database(pool)
            result = await submit_keywords(pool, words)
        seconds = time.monotonic() - began
        if as_json:
            print_json(
                {
                    "queued": list(result.queued),
                    "already_queued": list(result.already_queued),
                    "seconds": round(seconds, 3),
                }
            )
        else:
            out.print(
                f"queued {len(result.queued)} threads"
                + (
                    f", {len(result.already_queued)} already queued"
                    if result.already_queued
                    else ""
                )
                + f" in {seconds:.2f} s; run them with `agent-graph worker`"
            )

    execute(main)


def worker(
    concurrency: Annotated[
        int | None, typer.Option("--concurrency", "-c", min=1, help="Threads run at once.")
    ] = None,
    fetchers: Annotated[
        int, typer.Option(help="Jobs fetched at once while the queue has work.", min=1)
    ] = 8,
    graph: Annotated[
        str | None, typer.Option(help="Graph factory as module:function (default: content agent).")
    ] = None,
    grace: Annotated[
        float, typer.Option(help="Seconds SIGTERM waits for node boundaries.", min=0)
    ] = 30.0,
    stalled_after: Annotated[
        float, typer.Option(help="Seconds of silence after which a worker is presumed dead.")
    ] = 5.0,
    max_recoveries: Annotated[
        int, typer.Option(help="Crash recoveries of a thread before it is dead-lettered.", min=0)
    ] = 3,
    llm_concurrency: Annotated[
        int | None, typer.Option(help="Fleet-wide cap on concurrent calls to the model.", min=1)
    ] = None,
    llm_rpm: Annotated[
        int | None, typer.Option(help="Fleet-wide cap on requests per minute to the model.", min=1)
    ] = None,
) -> None:
    """Run queued threads until SIGTERM / Ctrl-C, then hand unfinished ones back and exit."""

    async def main() -> None:
        settings = settings_from_env()
        if llm_concurrency is not None or llm_rpm is not None:
            dsn = await asyncio.to_thread(
                resolve_dsn, settings.database_url, data_dir=settings.data_dir
            )
            async with open_async_pool(dsn, max_size=1) as pool:
                await setup_fleet_database(pool)
                await LlmLimiter(pool).update_limit(
                    settings.model, max_concurrent=llm_concurrency, rpm=llm_rpm
                )
        options = WorkerOptions(
            concurrency=concurrency or settings.concurrency,
            fetchers=fetchers,
            graph=graph,
            grace_seconds=grace,
            stalled_after=stalled_after,
            max_recoveries=max_recoveries,
        )
        await run_worker(settings, options)

    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    execute(main)


def fleet(as_json: JsonOption = False) -> None:
    """Show workers with their heartbeats, and threads queued, running, waiting, dead-lettered."""

    async def main() -> None:
        settings = settings_from_env()
        dsn = await asyncio.to_thread(
            resolve_dsn, settings.database_url, data_dir=settings.data_dir
        )
        async with open_async_pool(dsn, max_size=1) as pool:
            await setup_fleet_database(pool)
            status = await fleet_status(pool)
        if as_json:
            print_json(status.to_dict())
            return
        out.print(f"{len(status.workers)} workers")
        for w in status.workers:
            out.print(
                f"  {w.owner:<28} {w.state:<9} heartbeat {w.heartbeat_age:5.1f} s ago  "
                f"running {w.running}/{w.concurrency}"
            )
        out.print(
            f"threads: {status.queued} queued, {status.running} running, {status.waiting} waiting, "
            f"{status.dead_lettered} dead-lettered, {status.completed} completed, "
            f"{status.failed} failed"
        )

    execute(main)


def llm_limit(
    model: Annotated[
        str | None, typer.Option(help="The model (default: the configured AGENT_GRAPH_MODEL).")
    ] = None,
    concurrency: Annotated[
        int | None, typer.Option(help="Fleet-wide cap on concurrent calls to the model.", min=1)
    ] = None,
    rpm: Annotated[
        int | None, typer.Option(help="Fleet-wide cap on requests per minute to the model.", min=1)
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove the model's limits.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Show the fleet-wide LLM limits, or change one model's (running workers follow at once).

    Only the limits given change: `--rpm 600` keeps the model's concurrency cap.
    """

    async def main() -> None:
        settings = settings_from_env()
        name = model or settings.model
        if clear and (concurrency is not None or rpm is not None):
            raise ConfigurationError(
                "--clear removes every limit of the model",
                hint="give either --clear or --concurrency / --rpm",
            )
        dsn = await asyncio.to_thread(
            resolve_dsn, settings.database_url, data_dir=settings.data_dir
        )
        async with open_async_pool(dsn, max_size=1) as pool:
            await setup_fleet_database(pool)
            limiter = LlmLimiter(pool)
            if clear:
                await limiter.clear_limit(name)
            elif concurrency is not None or rpm is not None:
                await limiter.update_limit(name, max_concurrent=concurrency, rpm=rpm)
            usage = await limiter.usage()
        if as_json:
            print_json([dataclasses.asdict(u) for u in usage])
            return
        if not usage:
            out.print("no LLM limits: calls are not throttled")
        for u in usage:
            out.print(
                f"{u.model}: concurrency {u.max_concurrent or 'unlimited'}, "
                f"rpm {u.rpm or 'unlimited'}, {u.in_flight} in flight"
            )

    execute(main)
