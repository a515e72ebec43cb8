"""A three-node graph of the kind a user writes: clean a name, greet, sign the message."""

from __future__ import annotations

from typing import Any

from langgraph.graph import StateGraph
from pydantic import BaseModel, ConfigDict, Field

from ._linear import linear_graph

#: Graph name the example is served and run under.
EXAMPLE_NAME = "durable_example"


class GreetingRequest(BaseModel):
    """Input of the example: whom to greet."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, description="Who is greeted, e.g. 'Ada'.")


class GreetingState(BaseModel):
    """State of the example graph, checkpointed after each of its three steps."""

    name: str = Field(description="Who is greeted.")
    clean_name: str = Field(default="", description="The name, trimmed and capitalised.")
    greeting: str = Field(default="", description="The greeting line.")
    message: str = Field(default="", description="The signed message: the graph's result.")


def normalize(state: GreetingState) -> dict[str, Any]:
    """Trim and capitalise the name."""
    return {"clean_name": " ".join(state.name.split()).title()}


def greet(state: GreetingState) -> dict[str, Any]:
    """Write the greeting line."""
    return {"greeting": f"Hello, {state.clean_name}!"}


def sign(state: GreetingState) -> dict[str, Any]:
    """Sign the message."""
    return {"message": f"{state.greeting} -- sent by a durable graph"}


def build_greeting_graph() -> StateGraph[Any, Any, Any, Any]:
    """Build the (uncompiled) example graph: ``normalize -> greet -> sign``.

    Returns:
        A ``StateGraph`` over :class:`GreetingState` taking ``{"name": ...}`` as input.
    """
    return linear_graph(
        GreetingState,
        {"normalize": normalize, "greet": greet, "sign": sign},
        input_schema=GreetingRequest,
    )
