"""`agent-graph llm-limit`: an operator reads and changes the fleet's LLM limits."""

from __future__ import annotations

import pytest
from agent_cli import Cli

pytestmark = pytest.mark.postgres


def limits(cli: Cli) -> dict[str, tuple[int | None, int | None]]:
    return {u["model"]: (u["max_concurrent"], u["rpm"]) for u in cli.json("llm-limit")}


def test_each_option_changes_its_own_limit_and_keeps_the_other(cli: Cli) -> None:
    assert "not throttled" in cli.run("llm-limit", check=True).stdout

    cli.run("llm-limit", "--model", "gpt-4o-mini", "--concurrency", "3", check=True)
    shown = cli.run("llm-limit", "--model", "gpt-4o-mini", "--rpm", "600", check=True).stdout
    assert "gpt-4o-mini: concurrency 3, rpm 600, 0 in flight" in shown

    cli.run("llm-limit", "--model", "gpt-4o-mini", "--concurrency", "5", check=True)
    assert limits(cli) == {"gpt-4o-mini": (5, 600)}

    cli.run("llm-limit", "--model", "gpt-4o-mini", "--clear", check=True)
    assert limits(cli) == {}


def test_clear_with_a_limit_is_refused_and_changes_nothing(cli: Cli) -> None:
    cli.run("llm-limit", "--model", "m", "--rpm", "60", check=True)
    proc = cli.run("llm-limit", "--model", "m", "--clear", "--rpm", "5")
    assert proc.returncode == 2
    assert "give either --clear or --concurrency / --rpm" in proc.stderr
    assert limits(cli) == {"m": (None, 60)}


def test_a_limit_below_one_is_refused(cli: Cli) -> None:
    proc = cli.run("llm-limit", "--rpm", "0")
    assert proc.returncode == 2
    assert "--rpm" in proc.stderr
