"""Commands of ``agent-graph``: run, resume, status, history, events, db, provider, studio."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from policies._errors import DurableAgentError

from .._factory import (
    article_request,
    open_content_agent,
    open_runtime,
    thread_id_for,
)
from ..llm import LlmJournal
from ..runtime import ThreadStatus, check_thread_id
from ._common import (
    EXIT_USAGE,
    BudgetOption,
    JsonOption,
    execute,
    finish,
    install_stop_handlers,
    open_content_agent_for_reading,
    progress_display,
    settings_from_env,
)
from ._fleet import register as register_fleet
from ._output import err, out, print_history, print_json, print_status
from ._recovery import register as register_recovery

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
ESTIMATED_STEPS = 23


@app.command()
def run(
    keywords: Annotated[list[str], typer.Argument(help="One article (thread) per keyword.")],
    thread_id: Annotated[
        str | None, typer.Option("--thread-id", help="Thread ID (one keyword only).")
    ] = None,
    concurrency: Annotated[int | None, typer.Option(help="Threads run at once.")] = None,
    budget_usd: BudgetOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write and publish an article per keyword; exit 0 when all completed."""
    if thread_id is not None and len(keywords) != 1:
        err.print("[red]error:[/red] --thread-id takes exactly one keyword (give one keyword)")
        raise typer.Exit(EXIT_USAGE)

    async def go() -> list[ThreadStatus]:
        settings = settings_from_env()
        for keyword in keywords:
            article_request(keyword)
        for tid in [thread_id] if thread_id else []:
            check_thread_id(tid)
        async with open_content_agent(settings) as agent:
            if agent.provider_url:
                err.print(f"no OPENAI_API_KEY: using the offline provider at {agent.provider_url}")
            install_stop_handlers(agent)
            progress = progress_display(sys.stderr.isatty() and not as_json)
            tasks: dict[str, Any] = {}

            def on_step(tid: str, node: str) -> None:
                if progress is not None:
                    if tid not in tasks:
                        tasks[tid] = progress.add_task(tid, total=ESTIMATED_STEPS, node="")
                    progress.update(tasks[tid], advance=1, node=node)

            ids = [thread_id] if thread_id else None
            if budget_usd is not None:
                journal = LlmJournal(agent.runner.ctx.pool)
                for tid in ids or [thread_id_for(k) for k in keywords]:
                    await journal.set_budget(tid, budget_usd)
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

    finish(execute(go), as_json)


@app.command()
def resume(
    thread_id: Annotated[str, typer.Argument(help="The thread to continue.")],
    budget_usd: BudgetOption = None,
    as_json: JsonOption = False,
) -> None:
    """Continue a thread from its last checkpoint (completed nodes are not run again)."""

    async def go() -> ThreadStatus:
        check_thread_id(thread_id)
        async with open_content_agent(settings_from_env()) as agent:
            install_stop_handlers(agent)
            if budget_usd is not None:
                await LlmJournal(agent.runner.ctx.pool).set_budget(thread_id, budget_usd)
            before = await agent.status(thread_id)
            if before.status == "completed":
                err.print(f"thread {thread_id} is already completed; nothing to do")
                return before
            return await agent.resume(thread_id)

    finish([execute(go)], as_json)


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

    statuses = execute(go)
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

    executions = execute(go)
    if as_json:
        print_json(executions)
    else:
        print_history(thread_id, executions)


@app.command()
def events(
    thread_id: Annotated[str, typer.Argument(help="The thread.")],
    as_json: JsonOption = False,
) -> None:
    """The thread's event log: runs, node attempts, effects, LLM calls, escalations, ..."""

    async def go() -> list[Any]:
        check_thread_id(thread_id)
        async with open_content_agent_for_reading() as agent:
            await agent.status(thread_id)  # unknown thread: a clear error
            return list(await agent.runner.ctx.events.list(thread_id))

    found = execute(go)
    if as_json:
        print_json([event.to_dict() for event in found])
        return
    for event in found:
        where = f" {event.node}" if event.node else ""
        attempt = f" #{event.attempt}" if event.attempt else ""
        out.print(f"{event.at.isoformat()[11:23]} {event.kind}{where}{attempt} {event.data or ''}")


@db_app.command("setup")
def db_setup() -> None:
    """Create or upgrade the schema (safe to run from many processes at once)."""

    async def go() -> str:
        async with open_runtime(settings_from_env()) as runtime:
            from checkpointers import redact_dsn

            return redact_dsn(runtime.dsn)

    out.print(f"schema ready on {execute(go)}")


@db_app.command("url")
def db_url() -> None:
    """Print the database URL in use (password hidden); starts the embedded server if needed."""
    from checkpointers import redact_dsn, resolve_dsn

    settings = settings_from_env()
    try:
        out.print(redact_dsn(resolve_dsn(settings.database_url, data_dir=settings.data_dir)))
    except DurableAgentError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(EXIT_USAGE) from None


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded Postgres server (its data stays)."""
    from checkpointers import stop_embedded

    stop_embedded(settings_from_env().data_dir)
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


register_recovery(app)
register_fleet(app)


def main() -> None:
    """Entry point of the ``agent-graph`` console script."""
    app()


__all__ = ["app", "main", "thread_id_for"]
