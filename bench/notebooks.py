"""Notebook timings: each notebook in notebooks/ run top to bottom in a fresh kernel.

Issue 6's target is under two minutes per notebook. Each notebook runs on a dedicated database
(created, set up and dropped by the script) with the offline provider the notebook starts
itself; the time is the wall time of ``NotebookClient.execute`` (kernel start included).

Usage::

    python bench/notebooks.py [--database-url URL]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from checkpointers import (
    create_database,
    drop_database,
    resolve_dsn,
    setup_database_sync,
    with_database,
)

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
TARGET_SECONDS = 120.0


def run_one(path: Path, dsn: str) -> float:
    """Execute ``path`` against ``dsn`` in a fresh kernel; return the wall time in seconds."""
    notebook = nbformat.read(path, as_version=4)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENT_GRAPH_")}
    env["DATABASE_URL"] = dsn
    client = NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    started = time.monotonic()
    client.execute(env=env)
    return time.monotonic() - started


def main() -> None:
    """Time every notebook and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    args = parser.parse_args()
    server = resolve_dsn(args.database_url)
    print(f"date={time.strftime('%Y-%m-%d %H:%M:%S')} loadavg={os.getloadavg()[0]:.2f}")
    print("| notebook | seconds | under 2 min |")
    print("|---|---:|---|")
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        database = f"agent_graph_nb_{os.getpid()}"
        create_database(server, database)
        try:
            dsn = with_database(server, database)
            setup_database_sync(dsn)
            seconds = run_one(path, dsn)
        finally:
            drop_database(server, database)
        verdict = "yes" if seconds < TARGET_SECONDS else "NO"
        print(f"| {path.name} | {seconds:.1f} | {verdict} |", flush=True)
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
