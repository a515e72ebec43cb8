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
    assert completed["set_live"] == 1
    assert completed["notify"] == 1
    kinds = Counter(kind for kind, _ in events)
    assert kinds["node_failed"] == kinds["node_interrupted"] == 0


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


GOOD_INPUT = {"content_agent": {"keyword": "solar panels"}, "durable_example": {"name": "ada"}}


@pytest.mark.parametrize(
    ("graph", "bad_input", "field", "problem"),
    [
        ("content_agent", {"nope": 1}, "keyword", "Field required"),
        ("content_agent", {"keyword": "   "}, "keyword", "non-space character"),
        # the example's state accepts an empty name: only its input schema refuses it
        ("durable_example", {"name": ""}, "name", "at least 1 character"),
    ],
)
async def test_studio_rejects_malformed_input_naming_the_field(
    studio_url: str,
    database_url: str,
    graph: str,
    bad_input: dict[str, Any],
    field: str,
    problem: str,
) -> None:
    client = get_client(url=studio_url)
    thread = await client.threads.create()
    thread_id = thread["thread_id"]
    answer = await client.runs.wait(thread_id, graph, input=bad_input, raise_error=False)
    assert isinstance(answer, dict)
    error = answer["__error__"]
    assert error["error"] == "ValidationError"
    assert field in error["message"]
    assert problem in error["message"]
    [run] = await client.runs.list(thread_id)
    assert run["status"] == "error"
    # nothing ran and nothing was saved: no node started, no checkpoint, an empty history
    assert (
        rows(database_url, "SELECT kind FROM agent_graph_events WHERE thread_id = %s", thread_id)
        == []
    )
    assert checkpoint_ids(database_url, thread_id) == set()
    assert await client.threads.get_history(thread_id) == []

    # the server and the thread are still usable: a good input then runs to the end
    good = GOOD_INPUT[graph]
    await client.runs.wait(thread_id, graph, input=good, raise_error=True)
    runs = await client.runs.list(thread_id)
    assert sorted(r["status"] for r in runs) == ["error", "success"]
    state = await client.threads.get_state(thread_id)
    assert state["next"] == []
    assert state["values"][field] == good[field]
    assert len(await client.threads.get_history(thread_id, limit=200)) >= 4


def checkpoint_ids(database_url: str, thread_id: str) -> set[str]:
    found = rows(
        database_url, "SELECT checkpoint_id FROM checkpoints WHERE thread_id = %s", thread_id
    )
    return {checkpoint_id for (checkpoint_id,) in found}


async def test_studio_shows_an_escalation_as_a_question_and_resumes_with_the_answer(
    studio_url: str, database_url: str, provider: BackgroundProvider
) -> None:
    provider.set_faults("chat~Fact-check:context_length")
    client = get_client(url=studio_url)
    thread = await client.threads.create()
    thread_id = thread["thread_id"]
    await client.runs.wait(
        thread_id, "content_agent", input={"keyword": "solar panels"}, raise_error=True
    )

    state = await client.threads.get_state(thread_id)
    assert state["next"] == ["fact_check"]
    [task] = [t for t in state["tasks"] if t["interrupts"]]
    [interrupt] = task["interrupts"]
    payload = interrupt["value"]
    assert payload["node"] == "fact_check"
    assert payload["thread_id"] == thread_id
    assert payload["question"].endswith("?")
    assert "fact_check" in payload["question"]
    assert payload["classification"]["kind"] == "escalate"
    assert payload["classification"]["reason"] == "context_too_long"
    assert set(payload["actions"]) == {"retry", "skip", "abort"}
    assert "action" in payload["answer_format"]
    (thread_status,) = [(await client.threads.get(thread_id))["status"]]
    assert thread_status == "interrupted"

    # the fault is still there: skipping the node is what lets the thread finish
    result = await client.runs.wait(
        thread_id, "content_agent", command={"resume": {"action": "skip"}}, raise_error=True
    )
    assert isinstance(result, dict)
    assert result["publication"]["status"] == "live"
    final = await client.threads.get_state(thread_id)
    assert final["next"] == []
    assert not final["tasks"]
    events = rows(
        database_url,
        "SELECT kind, node FROM agent_graph_events WHERE thread_id = %s ORDER BY id",
        thread_id,
    )
    assert ("escalated", "fact_check") in events
    assert ("escalation_resolved", "fact_check") in events
    assert ("node_completed", "fact_check") not in events
    assert ("node_completed", "notify") in events


async def test_studio_bad_input_on_a_thread_with_checkpoints_leaves_them_untouched(
    studio_url: str, database_url: str
) -> None:
    client = get_client(url=studio_url)
    thread = await client.threads.create()
    thread_id = thread["thread_id"]
    await client.runs.wait(
        thread_id, "content_agent", input={"keyword": "solar panels"}, raise_error=True
    )
    history_before = await client.threads.get_history(thread_id, limit=200)
    stored_before = checkpoint_ids(database_url, thread_id)
    assert len(stored_before) == len(history_before) >= 10

    answer = await client.runs.wait(
        thread_id, "content_agent", input={"keyword": "   "}, raise_error=False
    )
    assert isinstance(answer, dict)
    error = answer["__error__"]
    assert error["error"] == "ValidationError"
    assert "keyword" in error["message"]
    runs = await client.runs.list(thread_id)
    assert sorted(run["status"] for run in runs) == ["error", "success"]

    assert checkpoint_ids(database_url, thread_id) == stored_before
    history_after = await client.threads.get_history(thread_id, limit=200)
    assert history_after == history_before
    state = await client.threads.get_state(thread_id)
    assert state["values"]["keyword"] == "solar panels"
    assert state["values"]["publication"]["status"] == "live"


async def test_studio_time_travel_forks_a_new_branch_and_keeps_the_old_one(
    studio_url: str, database_url: str
) -> None:
    client = get_client(url=studio_url)
    thread = await client.threads.create()
    thread_id = thread["thread_id"]
    await client.runs.wait(
        thread_id, "content_agent", input={"keyword": "wind turbines"}, raise_error=True
    )
    history = await client.threads.get_history(thread_id, limit=200)
    old_ids = [h["checkpoint"]["checkpoint_id"] for h in history]
    old_article = history[0]["values"]["article"]
    [before_edit] = [h for h in history if h["next"] == ["edit"]]
    past_id = before_edit["checkpoint"]["checkpoint_id"]
    draft = "# Wind turbines, revisited\n" + before_edit["values"]["draft"].partition("\n")[2]

    updated = await client.threads.update_state(thread_id, {"draft": draft}, checkpoint_id=past_id)
    fork_id = updated["checkpoint"]["checkpoint_id"]
    assert fork_id not in old_ids
    result = await client.runs.wait(
        thread_id, "content_agent", input=None, checkpoint_id=fork_id, raise_error=True
    )
    assert isinstance(result, dict)
    assert result["article"]["markdown"].startswith("# Wind turbines, revisited")

    after = await client.threads.get_history(thread_id, limit=200)
    by_id = {h["checkpoint"]["checkpoint_id"]: h for h in after}
    # the old branch is intact, checkpoint for checkpoint...
    assert set(old_ids) <= set(by_id)
    for old in history:
        kept = by_id[old["checkpoint"]["checkpoint_id"]]
        assert kept["values"] == old["values"]
        assert kept["next"] == old["next"]
    assert by_id[old_ids[0]]["values"]["article"] == old_article
    # ... and a new branch hangs off the past checkpoint, ending in the edited article
    assert by_id[fork_id]["parent_checkpoint"]["checkpoint_id"] == past_id
    new_branch = [h for h in after if h["checkpoint"]["checkpoint_id"] not in old_ids]
    assert len(new_branch) >= 2
    assert after[0]["checkpoint"]["checkpoint_id"] not in old_ids
    assert after[0]["values"]["article"]["markdown"].startswith("# Wind turbines, revisited")
    assert checkpoint_ids(database_url, thread_id) == set(by_id)
    # nodes before the fork point did not run again
    completed = Counter(
        node
        for kind, node in rows(
            database_url,
            "SELECT kind, node FROM agent_graph_events WHERE thread_id = %s",
            thread_id,
        )
        if kind == "node_completed"
    )
    assert completed["outline"] == completed["fact_check"] == 1
    assert completed["edit"] >= 2
