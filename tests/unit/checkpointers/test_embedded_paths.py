"""Where the embedded server keeps its data (no server started)."""

from __future__ import annotations

from pathlib import Path

import pytest

from checkpointers import default_data_dir


def test_default_data_dir_is_per_user_and_follows_xdg_data_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_data_dir() == tmp_path / "durable-agent-graph" / "postgres-18"
