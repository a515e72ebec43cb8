"""Schema setup: idempotent, atomic per migration, and safe when many processes race."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from checkpointers import (
    MigrationError,
    open_async_pool,
    setup_database,
    setup_database_sync,
)
from checkpointers._migrate import migrations

OUR_TABLES = {
    "agent_graph_runs",
    "agent_graph_events",
    "agent_graph_articles",
    "agent_graph_schema_migrations",
}
LANGGRAPH_TABLES = {"checkpoints", "checkpoint_blobs", "checkpoint_writes", "checkpoint_migrations"}


def tables(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
    return {row[0] for row in rows}


def migration_rows(dsn: str) -> list[tuple[int, str]]:
    with psycopg.connect(dsn) as conn:
        return [
            (row[0], row[1])
            for row in conn.execute(
                "SELECT version, name FROM agent_graph_schema_migrations ORDER BY version"
            )
        ]


async def test_setup_creates_every_table_and_is_idempotent(fresh_database_url: str) -> None:
    async with open_async_pool(fresh_database_url) as pool:
        await setup_database(pool)
        await setup_database(pool)
    setup_database_sync(fresh_database_url)

    assert tables(fresh_database_url) >= OUR_TABLES | LANGGRAPH_TABLES
    assert migration_rows(fresh_database_url) == [(m.version, m.name) for m in migrations()]


def test_checkpoints_are_compressed_with_lz4_where_the_server_has_it(
    fresh_database_url: str,
) -> None:
    setup_database_sync(fresh_database_url)
    with psycopg.connect(fresh_database_url) as conn:
        methods = conn.execute(
            "SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'"
        ).fetchone()
        columns = conn.execute(
            "SELECT attrelid::regclass::text, attname, attcompression FROM pg_attribute"
            " WHERE (attrelid, attname) IN (('checkpoints'::regclass, 'checkpoint'),"
            " ('checkpoint_blobs'::regclass, 'blob'), ('checkpoint_writes'::regclass, 'blob'))"
        ).fetchall()
        conn.execute(
            "INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, checkpoint,"
            " metadata) VALUES ('t', '', 'c', %s::jsonb, '{}')",
            ['{"versions": "' + "0123456789abcdef" * 400 + '"}'],
        )
        stored = conn.execute(
            "SELECT pg_column_compression(checkpoint) FROM checkpoints"
        ).fetchone()
    assert methods is not None
    assert stored is not None
    expected = "lz4" if "lz4" in methods[0] else "pglz"  # e.g. the embedded server: pglz only
    assert {c[2] for c in columns} == ({"l"} if expected == "lz4" else {""})
    assert len(columns) == 3
    assert stored[0] == expected


async def test_setup_releases_the_schema_lock(fresh_database_url: str) -> None:
    async with open_async_pool(fresh_database_url, max_size=1) as pool:
        await setup_database(pool)
        async with pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory'"
            )
            row = await cursor.fetchone()
    assert row is not None
    assert row["n"] == 0


def test_a_failing_migration_is_rolled_back_and_reported(fresh_database_url: str) -> None:
    with psycopg.connect(fresh_database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE agent_graph_articles (slug int)")

    with pytest.raises(MigrationError) as caught:
        setup_database_sync(fresh_database_url)

    assert "0001_core" in caught.value.message
    present = tables(fresh_database_url)
    assert "agent_graph_runs" not in present  # created earlier in the same migration
    assert migration_rows(fresh_database_url) == []


GATED = """
import sys, time
from pathlib import Path
gate = Path(sys.argv[2])
{imports}
print("ready", flush=True)
while not gate.exists():
    time.sleep(0.001)
{call}
"""
OURS = GATED.format(
    imports="from checkpointers import setup_database_sync",
    call="setup_database_sync(sys.argv[1])",
)
STOCK = GATED.format(
    imports="import asyncio\nfrom langgraph.checkpoint.postgres.aio import AsyncPostgresSaver",
    call=(
        "async def main():\n"
        "    async with AsyncPostgresSaver.from_conn_string(sys.argv[1]) as saver:\n"
        "        await saver.setup()\n"
        "asyncio.run(main())"
    ),
)


def race(code: str, dsn: str, gate: Path, processes: int = 10) -> list[tuple[int, str]]:
    """Start ``processes`` interpreters running ``code``, release them at the same instant
    (after their imports), and return (exit code, stderr) of each."""
    children = [
        subprocess.Popen(
            [sys.executable, "-c", code, dsn, str(gate)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    for child in children:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
    gate.touch()
    deadline = time.monotonic() + 120
    outcomes = []
    for child in children:
        _, err = child.communicate(timeout=max(1.0, deadline - time.monotonic()))
        outcomes.append((child.returncode, err))
    return outcomes


def test_ten_processes_set_up_a_fresh_database_at_once(
    fresh_database_url: str, tmp_path: Path
) -> None:
    outcomes = race(OURS, fresh_database_url, tmp_path / "go")

    assert [code for code, _ in outcomes] == [0] * 10, [err for _, err in outcomes]
    assert tables(fresh_database_url) >= OUR_TABLES | LANGGRAPH_TABLES
    assert migration_rows(fresh_database_url) == [(m.version, m.name) for m in migrations()]


def test_stock_langgraph_setup_fails_under_the_same_race(
    fresh_database_url: str, tmp_path: Path
) -> None:
    # The baseline the test above guards against: langgraph's own setup() is not safe to run
    # from several workers at once on a fresh database.
    outcomes = race(STOCK, fresh_database_url, tmp_path / "go")

    failures = [err for code, err in outcomes if code != 0]
    assert failures
    assert any("already exists" in err for err in failures)
