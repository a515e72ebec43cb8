"""Commands for the people operating threads: the dead-letter queue and escalations."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from .._errors import DeadLetterNotFound
from .._factory import open_content_agent
from ..runtime import ThreadStatus, check_thread_id
from ._common import (
    EXIT_USAGE,
    JsonOption,
    PatchOption,
    execute,
    finish,
    install_stop_handlers,
    letter_json,
    open_content_agent_for_reading,
    read_patch,
    settings_from_env,
)
from ._output import err, out, print_json, print_letters

dlq_app = typer.Typer(help="The dead-letter queue: threads stopped by a failure no retry fixes.")


@dlq_app.command("list")
def dlq_list(
    reason: Annotated[str | None, typer.Option(help="Only letters with this reason.")] = None,
    all_states: Annotated[bool, typer.Option("--all", help="Closed letters too.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Open dead letters: thread, node, reason, attempts, last failure."""

    async def go() -> list[Any]:
        async with open_content_agent_for_reading() as agent:
            state = None if all_states else "open"
            return list(await agent.runner.dead_letters.list(state=state, reason=reason))

    letters = execute(go)
    if as_json:
        print_json([letter_json(letter) for letter in letters])
        return
    print_letters(letters)


@dlq_app.command("show")
def dlq_show(letter_id: Annotated[int, typer.Argument(help="Dead letter ID.")]) -> None:
    """Everything kept about one dead letter (JSON)."""

    async def go() -> Any:
        async with open_content_agent_for_reading() as agent:
            letter = await agent.runner.dead_letters.get(letter_id)
            if letter is None:
                raise DeadLetterNotFound(letter_id, None)
            return letter

    print_json(letter_json(execute(go)))


@dlq_app.command("redrive")
def dlq_redrive(
    letter_id: Annotated[int | None, typer.Argument(help="Dead letter ID.")] = None,
    reason: Annotated[
        str | None, typer.Option(help="Redrive every open letter with this reason.")
    ] = None,
    patch: PatchOption = None,
    as_json: JsonOption = False,
) -> None:
    """Resume dead-lettered threads from their failure point (completed nodes are not re-run)."""
    if (letter_id is None) == (reason is None):
        err.print("[red]error:[/red] give a dead letter ID or --reason REASON (one of them)")
        raise typer.Exit(EXIT_USAGE)

    async def go() -> list[ThreadStatus]:
        patch_value = read_patch(patch)
        async with open_content_agent(settings_from_env()) as agent:
            install_stop_handlers(agent)
            if letter_id is not None:
                return [await agent.runner.redrive(letter_id, patch=patch_value)]
            letters = await agent.runner.dead_letters.list(reason=reason)
            return [await agent.runner.redrive(x.id, patch=patch_value) for x in letters]

    finish(execute(go), as_json)


@dlq_app.command("discard")
def dlq_discard(letter_id: Annotated[int, typer.Argument(help="Dead letter ID.")]) -> None:
    """Close a dead letter without running its thread again."""

    async def go() -> Any:
        async with open_content_agent_for_reading() as agent:
            return await agent.runner.discard(letter_id)

    letter = execute(go)
    out.print(f"dead letter {letter.id} of thread {letter.thread_id} discarded")


def escalations(as_json: JsonOption = False) -> None:
    """Threads waiting for a person's answer, with the question."""

    async def go() -> list[ThreadStatus]:
        async with open_content_agent_for_reading() as agent:
            return await agent.runner.escalations()

    waiting = execute(go)
    if as_json:
        print_json(waiting)
        return
    for status in waiting:
        question = (status.question or {}).get("question", "")
        out.print(f"[bold]{status.thread_id}[/bold]: {question}")
    if not waiting:
        out.print("no thread is waiting for a human")


def resolve(
    thread_id: Annotated[str, typer.Argument(help="A thread waiting for a human.")],
    action: Annotated[str, typer.Option(help="retry, skip or abort.")],
    patch: PatchOption = None,
    as_json: JsonOption = False,
) -> None:
    """Answer an escalation: retry the node (optionally after --patch), skip it, or abort."""

    async def go() -> ThreadStatus:
        check_thread_id(thread_id)
        patch_value = read_patch(patch)
        async with open_content_agent(settings_from_env()) as agent:
            install_stop_handlers(agent)
            return await agent.runner.resolve(thread_id, action, patch=patch_value)

    finish([execute(go)], as_json)


def register(app: typer.Typer) -> None:
    """Add ``dlq``, ``escalations`` and ``resolve`` to ``app``."""
    app.add_typer(dlq_app, name="dlq")
    app.command()(escalations)
    app.command()(resolve)
