"""The generic durable runtime: usable on any LangGraph ``StateGraph``."""

from ._context import DurableContext, NodeRun, durable_context, owner_is_alive, process_owner
from ._durable import make_durable
from ._effects import side_effect
from ._failpoints import FailpointError, Failpoints
from ._records import NodeExecution, ThreadStatus
from ._runner import Runner, check_thread_id
from ._saver import DurableSaver

__all__ = [
    "DurableContext",
    "DurableSaver",
    "FailpointError",
    "Failpoints",
    "NodeExecution",
    "NodeRun",
    "Runner",
    "ThreadStatus",
    "check_thread_id",
    "durable_context",
    "make_durable",
    "owner_is_alive",
    "process_owner",
    "side_effect",
]
