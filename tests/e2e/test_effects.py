"""Kill -9 around the content agent's side effects: each one happens once, undos too.

The CMS (the offline provider, another process) counts every publish and delete request it
receives, so a repeated request would show even if the CMS deduplicated it.
"""

from __future__ import annotations

import signal
from typing import Any

import psycopg
import pytest
from agent_cli import Cli, cli_env

from agent_graph.provider import BackgroundProvider, fetch_stats

KEYWORD = "solar panels"
SLUG = "solar-panels"


def effect_events(database_url: str, thread_id: str) -> list[tuple[str, dict[str, Any]]]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT kind, data FROM agent_graph_events "
            "WHERE thread_id = %s AND (kind LIKE 'effect_%%' OR kind LIKE 'compensat%%') "
            "ORDER BY id",
            (thread_id,),
        ).fetchall()
    return [(kind, data) for kind, data in rows]


@pytest.mark.parametrize(
    "failpoint",
    [
        "effect:set_live:after=kill",
        "effect:create_post:after=kill",
        "effect:upload_asset:after=kill@2",
        "effect:notify:after=kill",
        "effect:set_live:before=kill",
    ],
)
def test_kill_after_the_cms_acted_then_resume_acts_once(
    cli: Cli, provider: BackgroundProvider, database_url: str, failpoint: str
) -> None:
    crashed = cli.run("run", KEYWORD, "--thread-id", "fx", failpoints=failpoint)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr

    resumed = cli.run("resume", "fx")
    assert resumed.returncode == 0, resumed.stderr
    assert cli.json("status", "fx")["status"] == "completed"

    stats = fetch_stats(provider.base_url)
    assert stats["publishes"] == {SLUG: 1}, "exactly one publish request reached the CMS"
    assert stats["live"] == {SLUG: 1}
    assert stats["posts"] == {SLUG: 1}
    assert stats["assets"] == {SLUG: 2}
    assert stats["notifications"] == {SLUG: 1}
    name = failpoint.split(":")[1]
    reconciled = [d for k, d in effect_events(database_url, "fx") if k == "effect_reconciled"]
    assert [d["effect"] for d in reconciled] == [name]
    # acted before the kill: the lookup found it; killed before acting: nothing to find
    assert reconciled[0]["found"] is (":after=" in failpoint)


@pytest.mark.parametrize(
    "failpoint",
    ["compensate:create_post:after=kill", "compensate:upload_asset:before=kill@2"],
)
def test_fatal_failure_before_live_is_compensated_once_despite_a_kill(
    database_url: str, failpoint: str
) -> None:
    with BackgroundProvider(faults="cms~/publish:forbidden") as cms:
        cli = Cli(cli_env(database_url, cms.base_url))
        run = cli.run("run", KEYWORD, "--thread-id", "doomed", failpoints=failpoint)
        assert run.returncode == -signal.SIGKILL, run.stderr
        assert cli.json("status", "doomed")["status"] == "compensating"

        resumed = cli.run("resume", "doomed")
        assert resumed.returncode == 1, resumed.stderr
        status = cli.json("status", "doomed")
        assert status["status"] == "compensated"
        assert status["error"]["reason"] == "auth"
        assert cli.run("resume", "doomed").returncode != 0
        assert "compensated" in cli.run("resume", "doomed").stderr
        [letter] = cli.json("dlq", "list", "--all")
        assert letter["state"] == "compensated"

        stats = fetch_stats(cms.base_url)
    assert stats["posts"] == {}
    assert stats["assets"] == {}
    assert stats["post_deletes"] == {SLUG: 1}, "the post was deleted by one request"
    assert stats["asset_deletes"] == {SLUG: 2}, "each asset was deleted by one request"
    assert stats["live"] == {}
    assert stats["notifications"] == {}
    done = [d["effect"] for k, d in effect_events(database_url, "doomed") if k == "compensated"]
    assert done == ["create_post", "upload_asset", "upload_asset"]
