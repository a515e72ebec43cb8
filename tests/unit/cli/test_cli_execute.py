"""How the commands run their coroutine: on uvloop, with our errors as exit codes."""

from __future__ import annotations

import asyncio

import pytest
import typer

from agent_graph.cli._common import EXIT_FAILED, EXIT_USAGE, execute
from policies import ConfigurationError, Fatal


def test_commands_run_on_uvloop() -> None:
    async def loop_module() -> str:
        return type(asyncio.get_running_loop()).__module__

    assert execute(loop_module).startswith("uvloop")


@pytest.mark.parametrize(
    ("error", "code"),
    [(ConfigurationError("bad setting"), EXIT_USAGE), (Fatal("it broke"), EXIT_FAILED)],
)
def test_our_errors_become_a_message_and_an_exit_code(error: Exception, code: int) -> None:
    async def fail() -> None:
        raise error

    with pytest.raises(typer.Exit) as exit_info:
        execute(fail)
    assert exit_info.value.exit_code == code
