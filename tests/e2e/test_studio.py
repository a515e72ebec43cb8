"""`langgraph dev` (what LangGraph Studio talks to) serves our graphs on our Postgres.

The real server runs as a subprocess with the repository's ``langgraph.json``; the test drives
it with the LangGraph SDK like Studio does, then looks for the run's traces in our database.
"""

from __future__ import annotations

import socket
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from typing import IO, Any

import httpx
import psycopg
import pytest
from agent_cli import cli_env
from langgraph_sdk import get_client

from agent_graph.provider import BackgroundProvider
from agent_graph.studio import stop_process_group, studio_args, studio_env
from agent_graph.studio._command import PROJECT_ROOT

STARTUP_SECONDS = 120


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def output_of(log: IO[bytes]) -> str:
    log.seek(0)
    return log.read()[-4000:].decode("utf-8", "replace")


@pytest.fixture
def studio_url(database_url: str, provider: BackgroundProvider) -> Iterator[str]:
    """A running `langgraph dev` on a free loopback port, stopped (whole group) afterwards."""
    port = free_port()
    env = studio_env(cli_env(database_url, provider.base_url))
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            studio_args(port, reload=False),
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + STARTUP_SECONDS
            while True:
                if process.poll() is not None:
                    pytest.fail(
                        f"langgraph dev exited with {process.returncode}:\n{output_of(log)}"
                    )
                try:
                    if httpx.get(f"{url}/ok", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"langgraph dev not ready in {STARTUP_SECONDS}s:\n{output_of(log)}")
                time.sleep(0.25)
            yield url
            assert "Blocked deserialization" not in output_of(log)
        finally:
            stop_process_group(process)


def rows(database_url: str, query: str, thread_id: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(query, (thread_id,)).fetchall()


async def test_studio_runs_the_content_agent_on_our_postgres(
    studio_url: str, database_url: str
) -> None:
    client = get_client(url=studio_url)
    graphs = {a["graph_id"] for a in await client.assistants.search(limit=20)}
    assert {"content_agent", "durable_example"} <= graphs

    thread = await client.threads.create()
    thread_id = thread["thread_id"]
    result = await client.runs.wait(
        thread_id, "content_agent", input={"keyword": "solar panels"}, raise_error=True
    )
    assert isinstance(result, dict)
    assert result["publication"]["status"] == "live"

    state = await client.threads.get_state(thread_id)
    assert state["next"] == []
    article = state["values"]["article"]
    assert article["keyword"] == "solar panels"
    assert article["title"]
    assert article["markdown"].startswith("#")
    history = await client.threads.get_history(thread_id, limit=200)
    assert len(history) >= 10

    # The server's checkpointer is ours: the checkpoints are in our database...
    [(checkpoints,)] = rows(
        database_url, "SELECT count(*) FROM checkpoints WHERE thread_id = %s", thread_id
    )
    assert checkpoints == len(history)
    # ... and the wrapped nodes logged their executions there, each node completed once.
    events = rows(
        database_url,
        "SELECT kind, node FROM agent_graph_events WHERE thread_id = %s ORDER BY id",
        thread_id,
    )
    completed = Counter(node for kind, node in events if kind == "node_completed")
    assert completed["plan_queries"] == 1
    assert completed["publish"] == 1
    assert completed["notify"] == 1
    assert Counter(kind for kind, _ in events)["node_started"] == sum(completed.values())


async def test_studio_runs_the_example_graph(studio_url: str, database_url: str) -> None:
    client = get_client(url=studio_url)
    thread = await client.threads.create()
    result = await client.runs.wait(
        thread["thread_id"], "durable_example", input={"name": "  ada lovelace "}, raise_error=True
    )
    assert isinstance(result, dict)
    assert result["message"] == "Hello, Ada Lovelace! -- sent by a durable graph"
    events = rows(
        database_url,
        "SELECT node FROM agent_graph_events WHERE thread_id = %s AND kind = 'node_completed'",
        thread["thread_id"],
    )
    assert sorted(node for (node,) in events) == ["greet", "normalize", "sign"]


@pytest.mark.parametrize(
    ("bad_input", "problem"),
    [({"nope": 1}, "Field required"), ({"keyword": "   "}, "non-space character")],
)
async def test_studio_rejects_malformed_input_naming_the_field(
    studio_url: str, database_url: str, bad_input: dict[str, Any], problem: str
) -> None:
    client = get_client(url=studio_url)
    thread = await client.threads.create()
    answer = await client.runs.wait(
        thread["thread_id"], "content_agent", input=bad_input, raise_error=False
    )
    assert isinstance(answer, dict)
    error = answer["__error__"]
    assert error["error"] == "ValidationError"
    assert "keyword" in error["message"]
    assert problem in error["message"]
    [run] = await client.runs.list(thread["thread_id"])
    assert run["status"] == "error"
    # nothing ran: no node started for that thread
    assert (
        rows(
            database_url,
            "SELECT kind FROM agent_graph_events WHERE thread_id = %s",
            thread["thread_id"],
        )
        == []
    )
