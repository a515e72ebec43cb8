"""What a fleet worker's job does with a thread: a new one starts at once, any other after the
dead-letter and crash-loop checks (in process, on the real database)."""

from __future__ import annotations

import socket
import time
from typing import TypedDict

import pytest
from procrastinate import App, JobContext
from procrastinate.jobs import Job
from procrastinate.testing import InMemoryConnector

from agent_graph import Runtime, Settings, open_runtime
from agent_graph.examples import linear_graph
from agent_graph.fleet import FleetGraph, ThreadDriver
from agent_graph.runtime import Runner

pytestmark = pytest.mark.postgres

#: a process of this host that cannot exist (above Linux's highest PID): a crashed worker
DEAD_OWNER = f"{socket.gethostname()}:{2**22 + 1}"


class Doc(TypedDict, total=False):
    text: str
    steps: list[str]


def driver_of(runtime: Runtime, ran: list[str]) -> ThreadDriver:
    async def first(state: Doc) -> Doc:
        ran.append("first")
        return {"steps": [*state.get("steps", []), "first"]}

    async def second(state: Doc) -> Doc:
        ran.append("second")
        return {"steps": [*state["steps"], "second"]}

    builder = linear_graph(Doc, {"first": first, "second": second})
    runner = runtime.runner(builder, name="docs", heartbeat_seconds=3600)
    return ThreadDriver(FleetGraph(runner, lambda keyword: {"text": keyword}), max_recoveries=2)


async def run_job(driver: ThreadDriver, thread_id: str) -> str:
    app = App(connector=InMemoryConnector())
    job = Job(id=1, queue="q", lock=thread_id, queueing_lock=thread_id, task_name="t")
    context = JobContext(app=app, job=job, start_timestamp=time.time(), abort_reason=lambda: None)
    return await driver(context, thread_id, thread_id)


async def crashed_run(runner: Runner, thread_id: str, *, recoveries: int) -> None:
    """A run whose worker died while driving it."""
    await runner.ctx.runs.create(thread_id, "docs", {"text": thread_id})
    await runner.ctx.runs.claim(thread_id, DEAD_OWNER)
    for _ in range(recoveries):
        await runner.ctx.runs.increment_recoveries(thread_id)


async def test_a_new_thread_is_started_and_completed(database_url: str) -> None:
    ran: list[str] = []
    async with open_runtime(Settings(database_url=database_url)) as runtime:
        driver = driver_of(runtime, ran)
        outcome = await run_job(driver, "new")
        run = await driver.runner.ctx.runs.get("new")
        events = await driver.runner.ctx.events.list("new")

    assert outcome == "completed"
    assert ran == ["first", "second"]
    assert run is not None
    assert (run.status, run.owner, run.lease) == ("completed", runtime.context.owner, 1)
    assert [e.kind for e in events if e.kind.startswith("run_")] == [
        "run_started",
        "run_completed",
    ]
    assert driver.in_flight == set()


async def test_a_dead_lettered_thread_is_not_run(database_url: str) -> None:
    ran: list[str] = []
    async with open_runtime(Settings(database_url=database_url)) as runtime:
        driver = driver_of(runtime, ran)
        await runtime.context.runs.create("dl", "docs", {"text": "dl"})
        await runtime.context.runs.set_status("dl", "dead_lettered")
        outcome = await run_job(driver, "dl")

    assert outcome == "dead_lettered"
    assert ran == []


async def test_a_thread_that_keeps_crashing_its_worker_is_dead_lettered(database_url: str) -> None:
    ran: list[str] = []
    async with open_runtime(Settings(database_url=database_url)) as runtime:
        driver = driver_of(runtime, ran)
        await crashed_run(driver.runner, "loop", recoveries=2)
        outcome = await run_job(driver, "loop")
        run = await runtime.context.runs.get("loop")
        [letter] = await driver.runner.dead_letters.list()

    assert outcome == "dead_lettered"
    assert ran == []
    assert run is not None
    assert run.status == "dead_lettered"
    assert (letter.thread_id, letter.reason) == ("loop", "crash_loop")


async def test_a_crashed_unfinished_thread_is_taken_over_and_finished(database_url: str) -> None:
    ran: list[str] = []
    async with open_runtime(Settings(database_url=database_url)) as runtime:
        driver = driver_of(runtime, ran)
        runner = driver.runner
        await crashed_run(runner, "crashed", recoveries=0)
        # the dead worker had finished "first"
        config = runner.config("crashed")
        await runner.graph.ainvoke({"text": "crashed"}, config, interrupt_before=["second"])
        outcome = await run_job(driver, "crashed")
        run = await runtime.context.runs.get("crashed")

    assert outcome == "completed"
    assert ran == ["first", "second"]
    assert run is not None
    assert (run.status, run.owner, run.recoveries, run.lease) == (
        "completed",
        runtime.context.owner,
        1,
        2,
    )


async def test_a_thread_whose_worker_died_after_its_last_step_is_closed(
    database_url: str,
) -> None:
    ran: list[str] = []
    async with open_runtime(Settings(database_url=database_url)) as runtime:
        driver = driver_of(runtime, ran)
        runner = driver.runner
        await crashed_run(runner, "ended", recoveries=0)
        await runner.graph.ainvoke({"text": "ended"}, runner.config("ended"))
        outcome = await run_job(driver, "ended")
        run = await runtime.context.runs.get("ended")

    assert outcome == "completed"
    assert ran == ["first", "second"]  # by the dead worker, not again
    assert run is not None
    assert run.status == "completed"
