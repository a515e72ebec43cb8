"""The notebooks run top to bottom in a fresh kernel; their own asserts are the checks."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


@pytest.mark.parametrize(
    "name",
    [
        "01_quickstart.ipynb",
        "02_failure_policies.ipynb",
        "03_inspect_and_replay.ipynb",
        "04_your_own_graph.ipynb",
    ],
)
def test_notebook_runs_without_error(name: str, database_url: str) -> None:
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENT_GRAPH_")}
    env["DATABASE_URL"] = database_url
    client = NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    try:
        client.execute(env=env)
    except CellExecutionError as exc:
        pytest.fail(f"{name} failed:\n{exc}")
    outputs = [o for cell in notebook.cells for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("OK:" in o.get("text", "") for o in outputs)
