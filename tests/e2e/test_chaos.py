"""200 threads under random SIGKILLs, resumed until done: nothing is done twice, nothing is lost.

Failpoints fire at random (``%P``, each process with its own random source) at LLM responses,
after side effects, at node starts and before checkpoint writes; a kill takes down the whole
process with every thread in flight in it. The batch is driven by ``agent-graph run`` and then
by ``chaos_driver.py`` (one process resuming every unfinished thread concurrently) until every
thread is completed. It is compared with an uncrashed batch of the same keywords on a second
provider and a second database: the provider is deterministic, so the uncrashed batch says how
many LLM calls, node completions and side effects the work takes.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from agent_cli import Cli, cli_env

from agent_graph import thread_id_for
from agent_graph.provider import BackgroundProvider
from checkpointers import drop_database

pytestmark = pytest.mark.postgres

THREADS = 200
CONCURRENCY = "50"
KEYWORDS = [f"chaos topic {i}" for i in range(THREADS)]
SLUGS = [thread_id_for(k) for k in KEYWORDS]
FAILPOINTS = (
    "llm:*:response=kill%0.0015,"
    "effect:*:after=kill%0.004,"
    "node:*:start=kill%0.0008,"
    "checkpoint:put_writes=kill%0.0004"
)
MAX_ROUNDS = 60
DRIVER = Path(__file__).with_name("chaos_driver.py")
FIRED = re.compile(r"failpoint (\S+) fired")


@dataclass
class Batch:
    """What a batch of threads did, as the provider and the event log saw it."""

    stats: dict[str, Any]
    completed: dict[tuple[str, str], int]
    """``node_completed`` events per (thread, node)."""
    effects: dict[tuple[str, str], list[tuple[str, int, int]]]
    """Per (thread, effect): (key, ``effect_performed`` events, reconciled-as-found events)."""
    llm_calls: int
    """``llm_call`` events: answers received and journaled."""


def read_batch(database_url: str, provider: BackgroundProvider) -> Batch:
    with psycopg.connect(database_url, autocommit=True) as conn:
        completed = {
            (thread, node): n
            for thread, node, n in conn.execute(
                "SELECT thread_id, node, count(*) FROM agent_graph_events "
                "WHERE kind = 'node_completed' GROUP BY thread_id, node"
            ).fetchall()
        }
        effects: dict[tuple[str, str], list[tuple[str, int, int]]] = {}
        for thread, name, key, performed, found in conn.execute(
            "SELECT thread_id, data->>'effect', data->>'key', "
            "count(*) FILTER (WHERE kind = 'effect_performed'), "
            "count(*) FILTER (WHERE kind = 'effect_reconciled' AND (data->>'found')::boolean) "
            "FROM agent_graph_events WHERE kind IN ('effect_performed', 'effect_reconciled') "
            "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
        ).fetchall():
            effects.setdefault((thread, name), []).append((key, performed, found))
        row = conn.execute(
            "SELECT count(*) FROM agent_graph_events WHERE kind = 'llm_call'"
        ).fetchone()
    assert row is not None
    return Batch(provider.stats(), completed, effects, int(row[0]))


def diagnose(database_url: str, unfinished: dict[str, str]) -> str:
    """The run records and event logs of threads that did not complete, for the failure."""
    lines = [f"{len(unfinished)} threads did not complete"]
    with psycopg.connect(database_url, autocommit=True) as conn:
        for thread, status in sorted(unfinished.items())[:5]:
            run = conn.execute(
                "SELECT status, error, recoveries FROM agent_graph_runs WHERE thread_id = %s",
                (thread,),
            ).fetchone()
            lines.append(f"--- {thread}: {status}; run {run}")
            for event in conn.execute(
                "SELECT kind, node, attempt, owner, data FROM agent_graph_events "
                "WHERE thread_id = %s ORDER BY id",
                (thread,),
            ).fetchall():
                lines.append(f"    {event}")
    return "\n".join(lines)


@pytest.fixture
def uncrashed(pg_server: Any, template_db: str) -> Iterator[Batch]:
    """The same keywords run once without failpoints, on their own provider and database."""
    name = pg_server.new_database("agchaos", template=template_db)
    try:
        url = pg_server.dsn(name)
        with BackgroundProvider() as provider:
            cli = Cli(cli_env(url, provider.base_url))
            started = time.monotonic()
            proc = cli.run("run", *KEYWORDS, "--concurrency", CONCURRENCY, timeout=900)
            assert proc.returncode == 0, proc.stderr[-2000:]
            print(f"uncrashed batch: {time.monotonic() - started:.1f} s")
            yield read_batch(url, provider)
    finally:
        drop_database(pg_server.admin_dsn, name)


def drive(cli: Cli, keywords_file: Path) -> subprocess.CompletedProcess[str]:
    env = {**cli.env, "AGENT_GRAPH_FAILPOINTS": FAILPOINTS}
    return subprocess.run(
        [
            sys.executable,
            str(DRIVER),
            str(keywords_file),
            "--concurrency",
            CONCURRENCY,
            # every kill interrupts all threads in flight: no thread is a poison pill here
            "--max-recoveries",
            str(MAX_ROUNDS),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,  # a deadline for a loaded machine, not a speed claim
        check=False,
    )


def test_random_kills_every_article_published_once_and_nothing_paid_twice(
    cli: Cli,
    provider: BackgroundProvider,
    database_url: str,
    uncrashed: Batch,
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    first = cli.run("run", *KEYWORDS, "--concurrency", CONCURRENCY, failpoints=FAILPOINTS)
    exits = [first.returncode]
    fired = FIRED.findall(first.stderr)
    keywords_file = tmp_path / "keywords.txt"
    keywords_file.write_text("\n".join(KEYWORDS) + "\n")
    statuses: dict[str, str] = {}
    previous: dict[str, str] = {}
    for _ in range(MAX_ROUNDS):
        proc = drive(cli, keywords_file)
        exits.append(proc.returncode)
        if proc.returncode == 0:
            statuses = json.loads(proc.stdout)
            if set(statuses.values()) == {"completed"} or statuses == previous:
                break  # done, or stuck: nothing a new round could change
            previous = statuses
        else:
            assert proc.returncode == -9, proc.stderr[-2000:]
            fired += FIRED.findall(proc.stderr)
    elapsed = time.monotonic() - started
    kills = exits.count(-9)
    print(f"chaos: {len(exits)} processes, {kills} killed, {elapsed:.1f} s, exits {exits}")
    print(f"failpoints logged as fired: {fired}")
    assert kills >= 3, f"the failpoints hardly fired ({exits}): the test proves nothing"
    unfinished = {t: s for t, s in statuses.items() if s != "completed"}
    assert statuses, exits
    assert not unfinished, diagnose(database_url, unfinished)

    listed = {s["thread_id"]: s["status"] for s in cli.json("status")}
    assert {t: listed.get(t) for t in SLUGS} == dict.fromkeys(SLUGS, "completed")

    crashed = read_batch(database_url, provider)
    assert uncrashed.stats["publishes"] == dict.fromkeys(SLUGS, 1)
    assert crashed.stats["publishes"] == dict.fromkeys(SLUGS, 1), "one publish per article"
    assert crashed.stats["live"] == dict.fromkeys(SLUGS, 1)
    assert crashed.stats["posts"] == uncrashed.stats["posts"]
    assert crashed.stats["assets"] == uncrashed.stats["assets"]
    assert crashed.stats["notifications"] == uncrashed.stats["notifications"]

    # every node completed as often as in the uncrashed batch, per thread
    assert crashed.completed == uncrashed.completed
    # every side effect happened once per key: performed, or found done after a kill (the keys
    # themselves differ between the batches: they hash CMS ids, which each CMS assigns itself)
    assert crashed.effects.keys() == uncrashed.effects.keys()
    for where, keys in crashed.effects.items():
        assert len(keys) == len(uncrashed.effects[where]), (where, keys)
        for key, performed, found in keys:
            assert (performed, found) in ((1, 0), (0, 1)), (where, key, performed, found)

    # No answer was paid twice: every answer received was journaled once and read back after
    # a kill. The provider also counts requests that were in flight when a kill took their
    # process down (received, never answered to the dead client): those are lost, as with any
    # provider, and asked again; each kill cuts off at most the calls then in flight.
    assert uncrashed.stats["chat_completions"] == uncrashed.llm_calls
    assert crashed.llm_calls == uncrashed.llm_calls
    lost = crashed.stats["chat_completions"] - uncrashed.stats["chat_completions"]
    fan_out = max(uncrashed.completed.values())
    print(f"LLM requests: {crashed.stats['chat_completions']} (uncrashed {uncrashed.llm_calls})")
    assert 0 <= lost <= kills * int(CONCURRENCY) * fan_out, (lost, kills)
