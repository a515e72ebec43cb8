"""How a node's failure leaves the node: a dead letter, or a question to a person."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from langgraph.errors import GraphBubbleUp
from pydantic import BaseModel

from policies import Classification

from .._errors import InvalidInput

Action = Literal["retry", "skip", "abort"]
ACTIONS: dict[str, str] = {
    "retry": "run the node again, after applying `patch` to the state if one is given",
    "skip": "go on without this node's update",
    "abort": "stop the thread and put it in the dead-letter queue",
}
PATCH_KEY = "__agent_graph_patch__"
# LangGraph's per-task scratchpad, where resume values wait for their ``interrupt`` call.
SCRATCHPAD_KEY = "__pregel_scratchpad"


@dataclass(frozen=True)
class FailureReport:
    """Everything the dead-letter queue keeps about a failure."""

    node: str | None
    task_id: str | None
    kind: str
    classification: Classification
    attempts: int
    first_failure_at: datetime | None
    last_failure_at: datetime | None
    extra: dict[str, Any] = field(default_factory=dict)


class NodeDeadLettered(GraphBubbleUp):
    """A node failed for good; the thread stops at its last checkpoint.

    It derives from ``GraphBubbleUp`` so that sibling tasks of the same superstep finish and
    keep their writes: a redrive then re-runs only the failed node.
    """

    def __init__(self, report: FailureReport) -> None:
        super().__init__(f"node {report.node!r} dead-lettered: {report.classification.reason}")
        self.report = report


class Answer(BaseModel):
    """A person's answer to an escalation."""

    action: Action
    patch: dict[str, Any] | None = None


def question(node: str, thread_id: str, classification: Classification | None) -> dict[str, Any]:
    """The interrupt payload of an escalation: a question with the allowed answers."""
    if classification is None:
        return {
            "question": f"The answer given for node '{node}' was not understood. "
            "Answer retry, skip or abort.",
            "node": node,
            "thread_id": thread_id,
            "classification": None,
            "actions": ACTIONS,
            "answer_format": {"action": "retry | skip | abort", "patch": {}},
        }
    return {
        "question": (
            f"Node '{node}' of thread '{thread_id}' failed with '{classification.reason}' "
            f"({classification.error_type}: {classification.message}). "
            "Retry it (optionally after patching the state), skip it, or abort the thread?"
        ),
        "node": node,
        "thread_id": thread_id,
        "classification": classification.to_dict(),
        "actions": ACTIONS,
        "answer_format": {"action": "retry | skip | abort", "patch": {"<state field>": "<value>"}},
    }


def parse_answer(value: Any) -> Answer | None:
    """Read an escalation answer: ``"retry"`` or ``{"action": ..., "patch": {...}}``."""
    if isinstance(value, str):
        value = {"action": value}
    try:
        return Answer.model_validate(value)
    except ValueError:
        return None


def apply_patch(state: Any, patch: dict[str, Any] | None) -> Any:
    """``state`` with ``patch``'s fields replaced (pydantic states are validated again).

    Raises:
        InvalidInput: the patched state does not validate.
    """
    if not patch:
        return state
    if isinstance(state, BaseModel):
        try:
            return type(state).model_validate({**state.model_dump(), **patch})
        except ValueError as exc:
            raise InvalidInput(
                f"the patch does not fit the state: {exc}".replace("\n", " "),
                hint="fix the field named above in the patch file",
            ) from None
    if isinstance(state, dict):
        return {**state, **patch}
    return state


def with_patch(result: Any, patch: dict[str, Any] | None) -> Any:
    """The node's update with the patch's fields included, so the patch is checkpointed."""
    if not patch:
        return result
    if result is None:
        return dict(patch)
    if isinstance(result, dict):
        return {**patch, **result}
    return result


def has_answer(config: Any) -> bool:
    """Whether LangGraph resumed this task with an answer for its first ``interrupt``."""
    scratchpad = (config or {}).get("configurable", {}).get(SCRATCHPAD_KEY)
    if scratchpad is None:
        return False
    if getattr(scratchpad, "resume", None):
        return True
    peek = getattr(scratchpad, "get_null_resume", None)
    return callable(peek) and peek(False) is not None
