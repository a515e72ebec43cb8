"""Fatal failures become dead letters; redrive resumes from the failure point."""

from __future__ import annotations

import json
import signal
from collections import Counter
from pathlib import Path

import psycopg
import pytest
from agent_cli import Cli, cli_env

from agent_graph.provider import BackgroundProvider


def completed(cli: Cli, thread_id: str) -> Counter[str]:
    return Counter(h["node"] for h in cli.json("history", thread_id) if h["status"] == "completed")


@pytest.fixture
def quota(database_url: str) -> tuple[Cli, BackgroundProvider]:
    with BackgroundProvider(faults="chat~Outline:quota") as provider:
        yield Cli(cli_env(database_url, provider.base_url)), provider


def test_quota_dead_letter_then_redrive_runs_no_completed_node_again(
    quota: tuple[Cli, BackgroundProvider],
) -> None:
    cli, provider = quota
    assert cli.run("run", "solar panels").returncode == 1
    [letter] = cli.json("dlq", "list")
    assert letter["thread_id"] == "solar-panels"
    assert letter["node"] == "outline"
    assert (letter["kind"], letter["reason"]) == ("fatal", "quota_exhausted")
    assert letter["error_type"].endswith("RateLimitError")
    assert (letter["status_code"], letter["code"]) == (429, "insufficient_quota")
    assert letter["attempts"] == 1
    assert letter["first_failure_at"] <= letter["last_failure_at"]
    assert letter["checkpoint_id"]
    assert letter["state"] == "open"
    shown = json.loads(cli.run("dlq", "show", str(letter["id"]), check=True).stdout)
    assert shown == letter
    before = completed(cli, "solar-panels")
    assert "outline" not in before

    provider.set_faults("")  # credits topped up
    proc = cli.run("dlq", "redrive", str(letter["id"]))
    assert proc.returncode == 0, proc.stderr
    assert cli.json("status", "solar-panels")["status"] == "completed"
    after = completed(cli, "solar-panels")
    fan_outs = {"take_notes", "draft_section"}
    assert all(count == 1 for node, count in after.items() if node not in fan_outs), after
    for node, count in before.items():
        assert after[node] == count, node
    assert cli.json("dlq", "list") == []


def test_bulk_redrive_by_reason(quota: tuple[Cli, BackgroundProvider]) -> None:
    cli, provider = quota
    assert cli.run("run", "solar panels", "wind turbines").returncode == 1
    assert {x["reason"] for x in cli.json("dlq", "list")} == {"quota_exhausted"}
    provider.set_faults("")
    proc = cli.run("dlq", "redrive", "--reason", "quota_exhausted")
    assert proc.returncode == 0, proc.stderr
    for thread in ("solar-panels", "wind-turbines"):
        assert cli.json("status", thread)["status"] == "completed"


def test_bad_patch_or_unknown_letter_is_a_clear_error_and_changes_nothing(
    quota: tuple[Cli, BackgroundProvider], tmp_path: Path
) -> None:
    cli, _ = quota
    assert cli.run("run", "solar panels").returncode == 1
    [letter] = cli.json("dlq", "list")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]")
    unknown = tmp_path / "unknown.json"
    unknown.write_text('{"no_such_field": 1}')
    cases = [
        (["dlq", "redrive", str(letter["id"]), "--patch", str(broken)], "not valid JSON"),
        (["dlq", "redrive", str(letter["id"]), "--patch", str(listed)], "not an object"),
        (["dlq", "redrive", str(letter["id"]), "--patch", str(unknown)], "no_such_field"),
        (["dlq", "redrive", str(letter["id"]), "--patch", str(tmp_path / "x")], "cannot read"),
        (["dlq", "redrive", "999"], "no open dead letter 999"),
        (["dlq", "show", "999"], "no open dead letter 999"),
        (["dlq", "discard", "999"], "no open dead letter 999"),
    ]
    for args, words in cases:
        proc = cli.run(*args)
        assert proc.returncode != 0, args
        errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1, proc.stderr
        assert words in errors[0], (args, errors)
        assert cli.json("dlq", "list") == [letter]
        assert cli.json("status", "solar-panels")["status"] == "dead_lettered"


def test_discard_closes_the_letter(quota: tuple[Cli, BackgroundProvider]) -> None:
    cli, _ = quota
    assert cli.run("run", "solar panels").returncode == 1
    [letter] = cli.json("dlq", "list")
    assert cli.run("dlq", "discard", str(letter["id"])).returncode == 0
    assert cli.json("dlq", "list") == []
    assert cli.json("status", "solar-panels")["status"] == "discarded"
    assert cli.run("dlq", "redrive", str(letter["id"])).returncode != 0


def test_kill_during_backoff_resumes_with_the_attempt_count(database_url: str) -> None:
    with BackgroundProvider(faults="chat~Outline:server_error@1") as provider:
        cli = Cli(cli_env(database_url, provider.base_url))
        killed = cli.run("run", "solar panels", failpoints="node:outline:backoff=kill")
        assert killed.returncode == -signal.SIGKILL
        assert cli.run("resume", "solar-panels").returncode == 0
        outline = [h for h in cli.json("history", "solar-panels") if h["node"] == "outline"]
        assert [(h["attempt"], h["status"]) for h in outline] == [(1, "failed"), (2, "completed")]
        assert outline[0]["error"]["reason"] == "server_error"


def test_a_node_that_kills_its_process_every_time_is_dead_lettered_after_3_recoveries(
    cli: Cli, database_url: str
) -> None:
    poison = "node:fact_check:start=kill"
    assert cli.run("run", "solar panels", failpoints=poison).returncode == -signal.SIGKILL
    for _ in range(3):
        assert cli.run("resume", "solar-panels", failpoints=poison).returncode == -signal.SIGKILL
    final = cli.run("resume", "solar-panels", failpoints=poison)
    assert final.returncode == 1, final.stderr
    status = cli.json("status", "solar-panels")
    assert status["status"] == "dead_lettered"
    assert status["recoveries"] == 4
    [letter] = cli.json("dlq", "list")
    assert (letter["node"], letter["reason"], letter["kind"]) == (
        "fact_check",
        "crash_loop",
        "crash_loop",
    )
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM agent_graph_events WHERE thread_id = 'solar-panels' "
            "AND node = 'fact_check' AND kind = 'node_interrupted'"
        ).fetchone()
    assert row == (4,)
