"""Helpers for end-to-end tests: run the real `agent-graph` command in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any


@dataclass
class Cli:
    """Runs `python -m agent_graph` against one database and one provider."""

    env: dict[str, str]

    def run(
        self, *args: str, failpoints: str = "", timeout: float = 180, check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        env = dict(self.env)
        if failpoints:
            env["AGENT_GRAPH_FAILPOINTS"] = failpoints
        proc = subprocess.run(
            [sys.executable, "-m", "agent_graph", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"agent-graph {' '.join(args)} exited {proc.returncode}\n"
                f"{proc.stdout}\n{proc.stderr}"
            )
        return proc

    def json(self, *args: str) -> Any:
        proc = self.run(*args, "--json", check=True)
        return json.loads(proc.stdout)


def cli_env(database_url: str, provider_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENT_GRAPH_")}
    env.update(
        DATABASE_URL=database_url,
        OPENAI_API_KEY="offline-test-key",
        OPENAI_BASE_URL=f"{provider_url}/v1",
        AGENT_GRAPH_SERVICES_URL=provider_url,
        AGENT_GRAPH_HEARTBEAT_SECONDS="1",
    )
    return env
