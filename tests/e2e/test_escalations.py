"""Escalated failures pause the thread with a question; a person answers retry, skip or abort."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from agent_cli import Cli, cli_env

from agent_graph.provider import BackgroundProvider


@pytest.fixture
def too_long(database_url: str) -> tuple[Cli, BackgroundProvider]:
    # every fact-check request is "too long for the context window": escalate, not retry
    with BackgroundProvider(faults="chat~Fact-check:context_length") as provider:
        yield Cli(cli_env(database_url, provider.base_url)), provider


def escalate(cli: Cli, keyword: str, thread_id: str) -> dict[str, object]:
    proc = cli.run("run", keyword, "--thread-id", thread_id)
    assert proc.returncode == 3, proc.stderr
    assert f"agent-graph resolve {thread_id}" in proc.stderr
    status = cli.json("status", thread_id)
    assert status["status"] == "waiting_for_human"
    assert status["next"] == ["fact_check"]
    return status


def test_escalation_is_listed_as_a_question_with_the_allowed_answers(
    too_long: tuple[Cli, BackgroundProvider],
) -> None:
    cli, _ = too_long
    escalate(cli, "solar panels", "ask")
    [waiting] = cli.json("escalations")
    question = waiting["question"]
    assert waiting["thread_id"] == "ask"
    assert question["node"] == "fact_check"
    assert question["classification"]["kind"] == "escalate"
    assert question["classification"]["reason"] == "context_too_long"
    assert set(question["actions"]) == {"retry", "skip", "abort"}
    assert "fact_check" in question["question"]
    failed = [h for h in cli.json("history", "ask") if h["status"] == "failed"]
    assert [(h["node"], h["attempt"]) for h in failed] == [("fact_check", 1)]


def test_skip_goes_on_without_the_node(too_long: tuple[Cli, BackgroundProvider]) -> None:
    cli, _ = too_long
    escalate(cli, "solar panels", "skip-me")
    proc = cli.run("resolve", "skip-me", "--action", "skip")
    assert proc.returncode == 0, proc.stderr
    status = cli.json("status", "skip-me")
    assert status["status"] == "completed"
    assert "fact_check" not in status["completed_nodes"]
    assert cli.json("escalations") == []


def test_retry_after_the_cause_is_fixed_completes(
    too_long: tuple[Cli, BackgroundProvider],
) -> None:
    cli, provider = too_long
    escalate(cli, "solar panels", "retry-me")
    provider.set_faults("")
    proc = cli.run("resolve", "retry-me", "--action", "retry")
    assert proc.returncode == 0, proc.stderr
    status = cli.json("status", "retry-me")
    assert status["status"] == "completed"
    assert status["completed_nodes"].count("fact_check") == 1


def test_retry_with_a_patch_replaces_state_fields(
    too_long: tuple[Cli, BackgroundProvider], tmp_path: Path
) -> None:
    cli, provider = too_long
    escalate(cli, "solar panels", "patch-me")
    provider.set_faults("")
    patch = tmp_path / "patch.json"
    patch.write_text(json.dumps({"draft": "# Short draft\n\nA shorter draft to check."}))
    proc = cli.run("resolve", "patch-me", "--action", "retry", "--patch", str(patch))
    assert proc.returncode == 0, proc.stderr
    article = cli.json("status", "patch-me")["result"]
    assert "A shorter draft to check." in article["markdown"]


def test_abort_ends_in_a_dead_letter(too_long: tuple[Cli, BackgroundProvider]) -> None:
    cli, _ = too_long
    escalate(cli, "solar panels", "abort-me")
    proc = cli.run("resolve", "abort-me", "--action", "abort")
    assert proc.returncode == 1
    assert cli.json("status", "abort-me")["status"] == "dead_lettered"
    [letter] = cli.json("dlq", "list")
    assert (letter["thread_id"], letter["node"], letter["kind"]) == (
        "abort-me",
        "fact_check",
        "aborted",
    )
    assert letter["reason"] == "context_too_long"


def test_bad_answers_are_refused_and_change_nothing(
    too_long: tuple[Cli, BackgroundProvider],
) -> None:
    cli, _ = too_long
    before = escalate(cli, "solar panels", "ask-bad")
    for args, words in [
        (["resolve", "ask-bad", "--action", "maybe"], "unknown action"),
        (["resolve", "nobody", "--action", "retry"], "unknown thread"),
    ]:
        proc = cli.run(*args)
        assert proc.returncode != 0
        assert words in proc.stderr
    assert cli.json("status", "ask-bad") == before


def test_an_aborted_thread_can_be_redriven(too_long: tuple[Cli, BackgroundProvider]) -> None:
    cli, provider = too_long
    escalate(cli, "solar panels", "abort-then-redrive")
    assert cli.run("resolve", "abort-then-redrive", "--action", "abort").returncode == 1
    [letter] = cli.json("dlq", "list")
    provider.set_faults("")
    proc = cli.run("dlq", "redrive", str(letter["id"]))
    assert proc.returncode == 0, proc.stderr
    status = cli.json("status", "abort-then-redrive")
    assert status["status"] == "completed"
    assert status["completed_nodes"].count("fact_check") == 1
