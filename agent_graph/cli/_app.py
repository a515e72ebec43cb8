"""Commands of ``agent-graph``: run, resume, status, history, db, provider."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, TypeVar

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from policies._errors import ConfigurationError, DurableAgentError

from .._factory import (
    ContentAgent,
    article_request,
    open_content_agent,
    open_runtime,
    thread_id_for,
)
from .._settings import Settings
from ..runtime import ThreadStatus, check_thread_id
from ._output import err, out, print_history, print_json, print_status

T = TypeVar("T")

app = typer.Typer(
    name="agent-graph",
    help="Durable LangGraph agents on Postgres: run, crash, resume by thread ID.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="The Postgres store (embedded unless DATABASE_URL is set).")
provider_app = typer.Typer(help="The offline OpenAI-compatible provider.")
app.add_typer(db_app, name="db")
app.add_typer(provider_app, name="provider")

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]
EXIT_FAILED, EXIT_USAGE, EXIT_STOPPED = 1, 2, 3
ESTIMATED_STEPS = 23


def _settings() -> Settings:
    try:
        return Settings()
    except Exception as exc:  # pydantic's ValidationError, with the variable's name in it
        raise ConfigurationError(
            f"invalid configuration: {exc}".replace("\n", " "),
            hint="fix the environment variable named above",
        ) from None


def _execute(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine, turning our errors into a one-line message and an exit code."""
    try:
        return asyncio.run(make())
    except DurableAgentError as exc:
        err.print(f"[red]error:[/red] {exc}", soft_wrap=True)
        code = EXIT_USAGE if isinstance(exc, ConfigurationError) else EXIT_FAILED
        raise typer.Exit(code) from None


def _install_stop_handlers(agent: ContentAgent) -> None:
    loop = asyncio.get_running_loop()

    def on_signal(signum: int) -> None:
        if agent.runner.ctx.stop_requested:
            err.print("second signal: exiting now (the last checkpoint is kept)")
            os._exit(130)
        agent.runner.ctx.request_stop()
        name = signal.Signals(signum).name
        err.print(f"{name}: stopping at the next node boundary (send again to exit now)")

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)


def _finish(statuses: list[ThreadStatus], as_json: bool) -> None:
    if as_json:
        print_json(statuses)
    else:
        for status in statuses:
            print_status(status)
    stopped = [s for s in statuses if s.status in ("incomplete", "running")]
    for status in stopped:
        err.print(f"stopped: resume with `agent-graph resume {status.thread_id}`")
    if any(s.status in ("failed", "dead_lettered") for s in statuses):
        raise typer.Exit(EXIT_FAILED)
    if stopped or any(s.status != "completed" for s in statuses):
        raise typer.Exit(EXIT_STOPPED)


def _progress(enabled: bool) -> Progress | None:
    if not enabled:
        return None
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[node]}"),
        console=err,
        transient=False,
    )


@app.command()
def run(
    keywords: Annotated[list[str], typer.Argument(help="One article (thread) per keyword.")],
    thread_id: Annotated[
        str | None, typer.Option("--thread-id", help="Thread ID (one keyword only).")
    ] = None,
    concurrency: Annotated[int | None, typer.Option(help="Threads run at once.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Write and publish an article per keyword; exit 0 when all completed."""
    if thread_id is not None and len(keywords) != 1:
        err.print("[red]error:[/red] --thread-id takes exactly one keyword (give one keyword)")
        raise typer.Exit(EXIT_USAGE)

    async def go() -> list[ThreadStatus]:
        settings = _settings()
        for keyword in keywords:
            article_request(keyword)
        for tid in [thread_id] if thread_id else []:
            check_thread_id(tid)
        async with open_content_agent(settings) as agent:
            if agent.provider_url:
                err.print(f"no OPENAI_API_KEY: using the offline provider at {agent.provider_url}")
            _install_stop_handlers(agent)
            progress = _progress(sys.stderr.isatty() and not as_json)
            tasks: dict[str, Any] = {}

            def on_step(tid: str, node: str) -> None:
                if progress is not None:
                    if tid not in tasks:
                        tasks[tid] = progress.add_task(tid, total=ESTIMATED_STEPS, node="")
                    progress.update(tasks[tid], advance=1, node=node)

            ids = [thread_id] if thread_id else None
            if progress is None:
                return await agent.run(
                    keywords,
                    thread_ids=ids,
                    concurrency=concurrency or settings.concurrency,
                    on_step=on_step,
                )
            with progress:
                return await agent.run(
                    keywords,
                    thread_ids=ids,
                    concurrency=concurrency or settings.concurrency,
                    on_step=on_step,
                )

    _finish(_execute(go), as_json)


@app.command()
def resume(
    thread_id: Annotated[str, typer.Argument(help="The thread to continue.")],
    as_json: JsonOption = False,
) -> None:
    """Continue a thread from its last checkpoint (completed nodes are not run again)."""

    async def go() -> ThreadStatus:
        check_thread_id(thread_id)
        async with open_content_agent(_settings()) as agent:
            _install_stop_handlers(agent)
            before = await agent.status(thread_id)
            if before.status == "completed":
                err.print(f"thread {thread_id} is already completed; nothing to do")
                return before
            return await agent.resume(thread_id)

    _finish([_execute(go)], as_json)


@app.command()
def status(
    thread_id: Annotated[
        str | None, typer.Argument(help="A thread; all threads if omitted.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Show where a thread is: completed, incomplete, running, failed, ..."""

    async def go() -> list[ThreadStatus]:
        async with open_content_agent_for_reading() as agent:
            if thread_id is not None:
                return [await agent.status(thread_id)]
            runs = await agent.runner.ctx.runs.list(limit=1000)
            return [await agent.status(r.thread_id) for r in runs]

    statuses = _execute(go)
    if as_json:
        print_json(statuses[0] if thread_id is not None else statuses)
    else:
        for s in statuses:
            print_status(s)


@app.command()
def history(
    thread_id: Annotated[str, typer.Argument(help="The thread.")],
    as_json: JsonOption = False,
) -> None:
    """Every node execution of a thread, in order, from the event log."""

    async def go() -> Any:
        async with open_content_agent_for_reading() as agent:
            return await agent.history(thread_id)

    executions = _execute(go)
    if as_json:
        print_json(executions)
    else:
        print_history(thread_id, executions)


def open_content_agent_for_reading() -> Any:
    """The content agent without a provider: reading commands make no calls."""
    return open_content_agent(_settings(), start_provider=False)


@db_app.command("setup")
def db_setup() -> None:
    """Create or upgrade the schema (safe to run from many processes at once)."""

    async def go() -> str:
        async with open_runtime(_settings()) as runtime:
            from checkpointers import redact_dsn

            return redact_dsn(runtime.dsn)

    out.print(f"schema ready on {_execute(go)}")


@db_app.command("url")
def db_url() -> None:
    """Print the database URL in use (password hidden); starts the embedded server if needed."""
    from checkpointers import redact_dsn, resolve_dsn

    settings = _settings()
    try:
        out.print(redact_dsn(resolve_dsn(settings.database_url, data_dir=settings.data_dir)))
    except DurableAgentError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(EXIT_USAGE) from None


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded Postgres server (its data stays)."""
    from checkpointers import stop_embedded

    stop_embedded(_settings().data_dir)
    out.print("embedded Postgres stopped")


@provider_app.command("serve")
def provider_serve(
    port: Annotated[int, typer.Option(help="Loopback port to listen on.")] = 8765,
    latency: Annotated[float, typer.Option(help="Seconds added to each answer.")] = 0.0,
    seed: Annotated[int, typer.Option(help="Seed of the deterministic answers.")] = 0,
    faults: Annotated[str, typer.Option(help="Fault plan, e.g. chat:rate_limit=0.3.")] = "",
) -> None:
    """Serve the offline provider (chat completions, search, pages, CMS, webhook)."""
    from ..provider import ProviderConfig, parse_faults, serve

    try:
        config = ProviderConfig(seed=seed, latency=latency, faults=parse_faults(faults))
        out.print(f"offline provider on http://127.0.0.1:{port} (OpenAI base URL: /v1)")
        serve(port=port, config=config)
    except DurableAgentError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(EXIT_USAGE) from None


@app.command()
def studio(
    port: Annotated[int, typer.Option(help="Loopback port of the local API.")] = 2024,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    no_reload: Annotated[bool, typer.Option("--no-reload", help="Do not watch files.")] = False,
) -> None:
    """Serve the graphs to LangGraph Studio (`langgraph dev`), checkpoints in our Postgres."""
    from ..studio import studio_command

    raise typer.Exit(studio_command(port, host=host, reload=not no_reload))


def main() -> None:
    """Entry point of the ``agent-graph`` console script."""
    app()


__all__ = ["app", "main", "thread_id_for"]
