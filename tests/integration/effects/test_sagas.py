"""Compensations: newest first, each exactly once, even when compensating is cut off."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any, TypedDict

import pytest
from langgraph.graph import END, START, StateGraph

from agent_graph import Compensations, Settings, Undo, compensate, effect, open_runtime
from agent_graph.runtime import CompensationFailed, DurableContext, FailpointError, Failpoints
from checkpointers import EffectLedger, EventLog


class Trip(TypedDict, total=False):
    city: str
    booked: list[str]


class Agency:
    """Bookings that exist until cancelled; counts every cancel request."""

    def __init__(self) -> None:
        self.bookings: dict[str, str] = {}
        self.cancels: Counter[str] = Counter()
        self.order: list[str] = []

    async def cancel(self, args: Mapping[str, Any], key: str) -> dict[str, Any]:
        self.cancels[args["id"]] += 1
        self.order.append(args["id"])
        self.bookings.pop(args["id"], None)
        return {"cancelled": args["id"]}

    async def cancelled(self, args: Mapping[str, Any], key: str) -> dict[str, Any] | None:
        return None if args["id"] in self.bookings else {"cancelled": args["id"]}


def trip_graph(agency: Agency) -> Any:
    async def book(state: Trip) -> Trip:
        booked = []
        for what in ("flight", "hotel", "car"):

            async def reserve(key: str, what: str = what) -> dict[str, str]:
                ident = f"{what}-{state['city']}"
                agency.bookings[ident] = key
                return {"id": ident}

            result = await effect(
                what,
                reserve,
                content={"city": state["city"], "what": what},
                compensate=lambda r: Undo("cancel", {"id": r["id"]}),
            )
            booked.append(result["id"])
        return {"booked": booked}

    builder: StateGraph[Any, Any, Any, Any] = StateGraph(Trip)
    builder.add_node("book", book)
    builder.add_edge(START, "book")
    builder.add_edge("book", END)
    return builder


async def test_compensations_run_in_reverse_once_and_survive_a_crash(database_url: str) -> None:
    agency = Agency()
    registry = Compensations()
    registry.register("cancel", agency.cancel, lookup=agency.cancelled)
    async with open_runtime(Settings(database_url=database_url)) as runtime:
        status = await runtime.runner(trip_graph(agency), name="trips").start("t", {"city": "Oslo"})
        assert status.status == "completed"
        assert len(agency.bookings) == 3

        # Compensating is cut off after the hotel was cancelled, before that was recorded.
        crashing = DurableContext(
            runtime.pool, failpoints=Failpoints.parse("compensate:hotel:after=raise")
        )
        with pytest.raises(FailpointError):
            await compensate(crashing, "t", registry=registry)
        assert agency.order == ["car-Oslo", "hotel-Oslo"]
        states = {r.name: r.status for r in await EffectLedger(runtime.pool).list("t")}
        assert states == {"flight": "done", "hotel": "compensating", "car": "compensated"}

        # Run again: the hotel's lookup finds it cancelled, the flight is cancelled; no repeat.
        assert await compensate(runtime.context, "t", registry=registry) == 2
        assert agency.order == ["car-Oslo", "hotel-Oslo", "flight-Oslo"]
        assert set(agency.cancels.values()) == {1}
        assert agency.bookings == {}
        assert await compensate(runtime.context, "t", registry=registry) == 0

        records = await EffectLedger(runtime.pool).list("t")
        assert {r.status for r in records} == {"compensated"}
        assert all(r.compensated_at is not None for r in records)
        events = await EventLog(runtime.pool).list("t")
        compensated = [e for e in events if e.kind == "compensated"]
        assert [e.data["effect"] for e in compensated] == ["car", "hotel", "flight"]
        assert compensated[1].data.get("reconciled") is True
        assert [e.kind for e in events].count("compensation_started") == 2


async def test_unknown_compensation_fails_with_a_hint(database_url: str) -> None:
    agency = Agency()
    async with open_runtime(Settings(database_url=database_url)) as runtime:
        await runtime.runner(trip_graph(agency), name="trips").start("t", {"city": "Rome"})
        with pytest.raises(CompensationFailed, match="'cancel'") as raised:
            await compensate(runtime.context, "t", registry=Compensations())
        assert "register" in raised.value.hint
        assert len(agency.bookings) == 3


async def test_failing_undo_stops_and_is_retried_next_time(database_url: str) -> None:
    agency = Agency()
    calls = Counter[str]()

    async def flaky_cancel(args: Mapping[str, Any], key: str) -> dict[str, Any]:
        calls[args["id"]] += 1
        if args["id"] == "hotel-Rome" and calls[args["id"]] == 1:
            raise RuntimeError("agency down, token=sk-abcdefabcdefabcdefabcdef")
        return await agency.cancel(args, key)

    registry = Compensations()
    registry.register("cancel", flaky_cancel)
    async with open_runtime(Settings(database_url=database_url)) as runtime:
        await runtime.runner(trip_graph(agency), name="trips").start("t", {"city": "Rome"})
        with pytest.raises(CompensationFailed, match="agency down"):
            await compensate(runtime.context, "t", registry=registry)
        assert agency.order == ["car-Rome"]
        assert await compensate(runtime.context, "t", registry=registry) == 2
        assert agency.order == ["car-Rome", "hotel-Rome", "flight-Rome"]
        failed = await EventLog(runtime.pool).list("t", kinds=["compensation_failed"])
        assert len(failed) == 1
        assert "sk-abcdef" not in str(failed[0].data)


async def test_a_compensated_effect_is_not_reused(database_url: str) -> None:
    registry = Compensations()
    undone: list[str] = []

    async def unbook(args: Mapping[str, Any], key: str) -> None:
        undone.append(key)

    registry.register("unbook", unbook)

    async def book(state: Trip) -> Trip:
        async def reserve(key: str) -> str:
            return "seat-1"

        seat = await effect("seat", reserve, key="seat-1", compensate=Undo("unbook"))
        return {"booked": [seat]}

    builder: StateGraph[Any, Any, Any, Any] = StateGraph(Trip)
    builder.add_node("book", book)
    builder.add_edge(START, "book")
    builder.add_edge("book", END)
    async with open_runtime(Settings(database_url=database_url)) as runtime:
        runner = runtime.runner(builder, name="seats")
        assert (await runner.start("a", {"city": "Pisa"})).result["booked"] == ["seat-1"]
        assert await compensate(runtime.context, "a", registry=registry) == 1
        assert undone == ["seat-1:undo"]
        again = await runner.start("b", {"city": "Pisa"})
        assert again.status != "completed"
        [failed] = [h for h in await runner.history("b") if h.status == "failed"]
        assert failed.error is not None
        assert failed.error["error_type"].endswith("EffectCompensated")
