"""The README's 20-line example runs as written, on a real Postgres."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).parents[2] / "README.md"


def test_the_readme_example_on_a_users_graph_runs(database_url: str, tmp_path: Path) -> None:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"## Your own graph in 20 lines\n\n```python\n(.*?)```", text, re.S)
    assert match, "the README lost its example"
    script = tmp_path / "example.py"
    script.write_text(match.group(1))
    env = {**os.environ, "DATABASE_URL": database_url}
    first = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120
    )
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert lines[0].startswith("completed {'item': 'lamp', 'price': 38.0, 'receipt': 'receipt-")
    assert [line.split()[:2] for line in lines[1:]] == [
        ["quote", "completed"],
        ["charge", "completed"],
    ]
    # run again: the thread is completed, nothing runs and the receipt is the same
    second = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120
    )
    assert second.returncode == 0, second.stderr
    assert second.stdout.splitlines()[0] == lines[0]
