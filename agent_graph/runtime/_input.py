"""A graph's input is checked against its input schema before anything is checkpointed.

LangGraph saves a run's input as a checkpoint (``source: input``) and runs the ``__start__`` task
before the first node coerces the state into its pydantic model; a malformed input (a blank
keyword, a missing field) is therefore saved, becomes the thread's latest state, and only then
fails: the thread's history no longer loads. :func:`validate_input_first` makes the graph's
input channel validate what it receives, which happens in memory before the input checkpoint is
written and before any task runs, so a rejected input leaves the thread exactly as it was.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Self

import pydantic
import pydantic_core
from langgraph.channels.ephemeral_value import EphemeralValue
from langgraph.constants import START
from langgraph.graph.state import CompiledStateGraph

from .._errors import ValidationError

logger = logging.getLogger(__name__)


def check_input(schema: type[pydantic.BaseModel], value: Any, *, partial: bool = False) -> None:
    """Validate a graph input ``value`` against ``schema`` without keeping the result.

    Values that are not mappings (e.g. an instance of the schema) are left to LangGraph.

    Args:
        schema: the graph's input schema.
        value: what the caller gave as input.
        partial: the schema is the whole state, so an input may update only some fields:
            only the fields it names are checked (and whether they are known fields).

    Raises:
        ValidationError: a field is missing, unknown or invalid; the message names each.
    """
    if not isinstance(value, Mapping):
        return
    try:
        schema.model_validate(value)
    except pydantic.ValidationError as exc:
        errors = [
            error
            for error in exc.errors(include_url=False, include_context=False, include_input=False)
            if not partial or (error["loc"] and error["loc"][0] in value)
        ]
        if errors:
            raise _rejected(schema, errors) from exc


def _rejected(
    schema: type[pydantic.BaseModel], errors: Sequence[pydantic_core.ErrorDetails]
) -> ValidationError:
    problems = "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or 'input'}: {error['msg']}"
        for error in errors
    )
    fields = ", ".join(schema.model_fields)
    logger.info(
        "graph input rejected",
        extra={"schema": schema.__name__, "fields": [e["loc"] for e in errors]},
    )
    return ValidationError(
        f"invalid {schema.__name__} input: {problems}",
        hint=f"send an object with valid {schema.__name__} fields ({fields}); "
        "the thread was left unchanged",
        errors=tuple(dict(error) for error in errors),
    )


class _CheckedInput(EphemeralValue[Any]):
    """The ``__start__`` channel, validating the one input it receives per run."""

    __slots__ = ("partial",)

    def __init__(self, typ: Any, guard: bool = True, *, partial: bool = False) -> None:
        super().__init__(typ, guard)
        self.partial = partial

    def copy(self) -> Self:
        empty = super().copy()
        empty.partial = self.partial
        return empty

    def from_checkpoint(self, checkpoint: Any) -> Self:
        empty = super().from_checkpoint(checkpoint)
        empty.partial = self.partial
        return empty

    def update(self, values: Sequence[Any]) -> bool:
        if values:  # only a run's input is written here; every step clears it with none
            check_input(self.typ, values[-1], partial=self.partial)
        return super().update(values)


def validate_input_first(
    graph: CompiledStateGraph[Any, Any, Any, Any],
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Make ``graph`` reject a malformed input before anything of the run is saved.

    Applies to graphs whose input schema is a pydantic model. With a separate input schema
    (``StateGraph(State, input_schema=Request)``) every input must be a complete, valid
    request; when the input schema is the state itself, an input may name only some fields
    and only those are checked. Resuming (``None`` input) and ``Command`` inputs are not
    affected. Copies of the graph (as ``langgraph dev`` makes per run) keep the check.

    Args:
        graph: a compiled ``StateGraph``; it is changed in place.

    Returns:
        The same graph, for chaining.
    """
    schema = graph.builder.input_schema
    current = graph.channels[START]
    is_model = isinstance(schema, type) and issubclass(schema, pydantic.BaseModel)
    if not is_model or type(current) is not EphemeralValue:  # not one to check, or checked
        return graph
    checked = _CheckedInput(schema, current.guard, partial=schema is graph.builder.state_schema)
    checked.key = current.key
    graph.channels[START] = checked
    return graph
