"""The embedded server: started once per data directory, shared by processes, restartable.

Each test uses its own data directory (not the session server), made with mkdtemp rather than
tmp_path: as root the server runs as another user, and pytest resets /tmp/pytest-of-<user> to
mode 0700 whenever a pytest process starts.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from checkpointers import (
    EmbeddedPostgresError,
    embedded_dsn,
    resolve_dsn,
    stop_embedded,
)


@pytest.fixture
def data_dir() -> Iterator[Path]:
    scratch = Path(tempfile.mkdtemp(prefix="agent-graph-embedded-"))
    try:
        yield scratch / "pg"
    finally:
        stop_embedded(scratch / "pg")
        shutil.rmtree(scratch, ignore_errors=True)


CHILD = """
import json, sys, time
from pathlib import Path
from checkpointers import embedded_dsn
import psycopg
if sys.argv[2] != "-":
    print("ready", flush=True)
    while not Path(sys.argv[2]).exists():
        time.sleep(0.001)
started = time.monotonic()
dsn = embedded_dsn(Path(sys.argv[1]))
seconds = time.monotonic() - started
with psycopg.connect(dsn) as conn:
    db, start = conn.execute("SELECT current_database(), pg_postmaster_start_time()").fetchone()
print(json.dumps({"dsn": dsn, "db": db, "start": start.isoformat(), "seconds": seconds}))
"""


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("XDG_RUNTIME_DIR", None)  # the case that makes platformdirs warn
    env.pop("DATABASE_URL", None)
    return env


def run_child(data_dir: Path) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-W", "always", "-c", CHILD, str(data_dir), "-"],
        capture_output=True,
        text=True,
        timeout=120,
        env=child_env(),
    )
    assert proc.returncode == 0, proc.stderr
    assert "Warning" not in proc.stderr, proc.stderr
    result: dict[str, object] = json.loads(proc.stdout)
    return result


def postmaster_start(dsn: str) -> str:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT pg_postmaster_start_time()").fetchone()
    assert row is not None
    return str(row[0].isoformat())


def test_a_second_process_reuses_the_running_server_quickly(data_dir: Path) -> None:
    first = run_child(data_dir)
    second = run_child(data_dir)

    assert first["db"] == "agent_graph"
    assert first["dsn"] == second["dsn"]
    assert first["start"] == second["start"]  # same postmaster, not a restart
    assert isinstance(second["seconds"], float)
    assert second["seconds"] < 1.0
    # The server outlives the processes that started it.
    assert postmaster_start(str(first["dsn"])) == first["start"]


def test_processes_starting_at_once_share_one_server(data_dir: Path, tmp_path: Path) -> None:
    gate = tmp_path / "go"
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(data_dir), str(gate)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=child_env(),
        )
        for _ in range(4)
    ]
    for child in children:  # release them together, once all have imported
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
    gate.touch()
    results = [child.communicate(timeout=120) for child in children]

    assert [child.returncode for child in children] == [0] * 4, [err for _, err in results]
    starts = {json.loads(out)["start"] for out, _ in results}
    assert len(starts) == 1


def test_stop_then_start_again_keeps_the_data(data_dir: Path) -> None:
    dsn = embedded_dsn(data_dir)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (x int)")
        conn.execute("INSERT INTO kept VALUES (7)")
    first_start = postmaster_start(dsn)

    assert stop_embedded(data_dir) is True
    assert stop_embedded(data_dir) is False
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(dsn, connect_timeout=2).close()

    again = embedded_dsn(data_dir)
    assert again == dsn
    assert postmaster_start(again) != first_start
    with psycopg.connect(again) as conn:
        assert conn.execute("SELECT x FROM kept").fetchall() == [(7,)]


def test_a_stale_pid_file_does_not_prevent_a_start(data_dir: Path) -> None:
    embedded_dsn(data_dir)
    stop_embedded(data_dir)
    # After a crash or reboot, postmaster.pid may name a pid now used by another program.
    (data_dir / "postmaster.pid").write_text(f"{os.getpid()}\n{data_dir}\n0\n5432\n\n\n\nready\n")

    assert stop_embedded(data_dir) is False  # and this process got no signal
    (data_dir / "postmaster.pid").write_text(f"{os.getpid()}\n{data_dir}\n0\n5432\n\n\n\nready\n")
    dsn = embedded_dsn(data_dir, database="other_db")

    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT current_database()").fetchone()
    assert row == ("other_db",)


def test_resolve_dsn_without_database_url_uses_the_embedded_server(data_dir: Path) -> None:
    dsn = resolve_dsn(None, data_dir=data_dir)
    assert dsn == resolve_dsn("  ", data_dir=data_dir)
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("agent_graph",)


def test_an_unusable_data_dir_raises_a_clear_error(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")

    with pytest.raises(EmbeddedPostgresError) as caught:
        embedded_dsn(not_a_dir / "pg")

    assert str(not_a_dir / "pg") in caught.value.message
    assert "DATABASE_URL" in caught.value.hint
