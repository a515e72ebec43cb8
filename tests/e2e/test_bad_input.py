"""Bad input gets one clear line naming the fix, a non-zero exit, and changes nothing."""

from __future__ import annotations

import subprocess
import sys

import psycopg
import pytest
from agent_cli import Cli, cli_env

from agent_graph.provider import BackgroundProvider


def snapshot(database_url: str) -> list[tuple[object, ...]]:
    with psycopg.connect(database_url) as conn:
        return [
            conn.execute("SELECT count(*) FROM checkpoints").fetchone() or (),
            conn.execute("SELECT count(*) FROM checkpoint_writes").fetchone() or (),
            conn.execute("SELECT count(*) FROM agent_graph_events").fetchone() or (),
            conn.execute("SELECT count(*), max(updated_at) FROM agent_graph_runs").fetchone() or (),
        ]


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


@pytest.fixture
def ran(cli: Cli) -> Cli:
    assert cli.run("run", "solar panels").returncode == 0
    return cli


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("status", "no-such-thread"), ["unknown thread", "agent-graph run"]),
        (("resume", "no-such-thread"), ["unknown thread", "agent-graph status"]),
        (("history", "no-such-thread"), ["unknown thread"]),
        (("run", "solar panels", "--thread-id", "bad id!"), ["malformed thread ID", "letters"]),
        (("resume", "../etc"), ["malformed thread ID"]),
        (("run", "   "), ["invalid keyword", "non-empty keyword"]),
        (("run", ""), ["invalid keyword"]),
    ],
)
def test_bad_input_is_one_clear_line_and_changes_nothing(
    ran: Cli, database_url: str, args: tuple[str, ...], words: list[str]
) -> None:
    before = snapshot(database_url)
    proc = ran.run(*args)
    assert proc.returncode != 0
    line = one_line_error(proc)
    for word in words:
        assert word in line, line
    assert snapshot(database_url) == before


def test_unreachable_database_names_the_fix_and_hides_the_password(
    provider: BackgroundProvider,
) -> None:
    env = cli_env("postgresql://agent:s3cret-pw@127.0.0.1:1/nowhere", provider.base_url)
    proc = subprocess.run(
        [sys.executable, "-m", "agent_graph", "run", "solar panels"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode != 0
    line = one_line_error(proc)
    assert "DATABASE_URL" in line
    assert "s3cret-pw" not in proc.stderr + proc.stdout


def test_ten_concurrent_runs_set_up_a_fresh_database(
    fresh_database_url: str, provider: BackgroundProvider
) -> None:
    env = cli_env(fresh_database_url, provider.base_url)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "agent_graph", "run", f"topic {i}"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(10)
    ]
    results = [(p.wait(timeout=300), p.stderr.read() if p.stderr else "") for p in procs]
    for p in procs:
        for stream in (p.stdout, p.stderr):
            if stream:
                stream.close()
    assert [code for code, _ in results] == [0] * 10, results
    statuses = Cli(env).json("status")
    assert sorted(s["thread_id"] for s in statuses) == [f"topic-{i}" for i in range(10)]
    assert {s["status"] for s in statuses} == {"completed"}
