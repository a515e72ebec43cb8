"""The generic durable runtime: usable on any LangGraph ``StateGraph``."""

from checkpointers import IdempotencyKeyConflict

from ._context import (
    DurableContext,
    NodeRun,
    NodeScope,
    current_scope,
    durable_context,
    owner_is_alive,
    process_owner,
)
from ._durable import make_durable
from ._effects import (
    EffectCompensated,
    InvalidEffect,
    effect,
    effect_key,
    idempotent,
    side_effect,
)
from ._failpoints import FailpointError, Failpoints
from ._input import check_input, validate_input_first
from ._records import NodeExecution, ThreadStatus, check_thread_id
from ._runner import Runner
from ._saga import (
    COMPENSATIONS,
    Compensation,
    CompensationFailed,
    Compensations,
    Undo,
    compensate,
    compensation,
)
from ._saver import DurableSaver

__all__ = [
    "COMPENSATIONS",
    "Compensation",
    "CompensationFailed",
    "Compensations",
    "DurableContext",
    "DurableSaver",
    "EffectCompensated",
    "FailpointError",
    "Failpoints",
    "IdempotencyKeyConflict",
    "InvalidEffect",
    "NodeExecution",
    "NodeRun",
    "NodeScope",
    "Runner",
    "ThreadStatus",
    "Undo",
    "check_input",
    "check_thread_id",
    "compensate",
    "compensation",
    "current_scope",
    "durable_context",
    "effect",
    "effect_key",
    "idempotent",
    "make_durable",
    "owner_is_alive",
    "process_owner",
    "side_effect",
    "validate_input_first",
]
