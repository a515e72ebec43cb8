"""What the commands share: settings, error handling, exit codes, stop signals."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from policies._errors import ConfigurationError, DurableAgentError

from .._errors import InvalidInput
from .._factory import ContentAgent, open_content_agent
from .._settings import Settings
from ..runtime import ThreadStatus
from ._output import err, print_json, print_status

T = TypeVar("T")

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]
BudgetOption = Annotated[
    float | None,
    typer.Option("--budget-usd", help="LLM spend limit of the thread, in dollars.", min=0.0),
]
EXIT_FAILED, EXIT_USAGE, EXIT_STOPPED = 1, 2, 3


def settings_from_env() -> Settings:
    try:
        return Settings()
    except Exception as exc:  # pydantic's ValidationError, with the variable's name in it
        raise ConfigurationError(
            f"invalid configuration: {exc}".replace("\n", " "),
            hint="fix the environment variable named above",
        ) from None


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop where it is installed (5-10% less CPU per node-step in a busy
    worker, bench/RESULTS.md), else asyncio's own."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - a dependency, except on Windows
        return None
    return uvloop.new_event_loop


def execute(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine on a new event loop, turning our errors into a one-line message and an
    exit code."""
    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            return runner.run(make())
    except DurableAgentError as exc:
        err.print(f"[red]error:[/red] {exc}", soft_wrap=True)
        code = EXIT_USAGE if isinstance(exc, ConfigurationError) else EXIT_FAILED
        raise typer.Exit(code) from None


def install_stop_handlers(agent: ContentAgent) -> None:
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


def finish(statuses: list[ThreadStatus], as_json: bool) -> None:
    if as_json:
        print_json(statuses)
    else:
        for status in statuses:
            print_status(status)
    stopped = [s for s in statuses if s.status in ("incomplete", "running")]
    for status in stopped:
        err.print(f"stopped: resume with `agent-graph resume {status.thread_id}`")
    for status in statuses:
        if status.status == "waiting_for_human":
            err.print(
                f"waiting for a human: answer with `agent-graph resolve {status.thread_id} "
                "--action retry|skip|abort`"
            )
        if status.status == "dead_lettered" and status.error:
            err.print(
                f"dead-lettered ({status.error.get('reason')}): inspect with `agent-graph dlq "
                f"show {status.error.get('dead_letter_id')}`"
            )
    for status in statuses:
        if status.status == "budget_exceeded" and status.error:
            err.print(
                f"paused: budget of ${status.error.get('budget_usd')} reached; raise it with "
                f"`agent-graph resume {status.thread_id} --budget-usd X`"
            )
    if any(s.status in ("failed", "dead_lettered", "compensated") for s in statuses):
        raise typer.Exit(EXIT_FAILED)
    if stopped or any(s.status != "completed" for s in statuses):
        raise typer.Exit(EXIT_STOPPED)


def progress_display(enabled: bool) -> Progress | None:
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


def open_content_agent_for_reading() -> AbstractAsyncContextManager[ContentAgent]:
    """The content agent without a provider: reading commands make no calls."""
    return open_content_agent(settings_from_env(), start_provider=False)


PatchOption = Annotated[
    Path | None,
    typer.Option("--patch", help="JSON object of state fields to replace before the node runs."),
]


def read_patch(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput(
            f"cannot read patch file {str(path)!r}: {exc.strerror}", hint="give an existing file"
        ) from None
    except ValueError as exc:
        raise InvalidInput(
            f"patch file {str(path)!r} is not valid JSON: {exc}",
            hint='write a JSON object such as {"brief": "..."}',
        ) from None
    if not isinstance(value, dict):
        raise InvalidInput(
            f"patch file {str(path)!r} holds a JSON {type(value).__name__}, not an object",
            hint='write a JSON object such as {"brief": "..."}',
        )
    return value


def letter_json(letter: Any) -> dict[str, Any]:
    data: dict[str, Any] = letter.to_dict()
    return data
