"""Fleet-wide LLM flow control, as the fleet exposes it.

The limiter lives in :mod:`agent_graph.llm` (``JournaledChatOpenAI`` takes its slots, and the
fleet's modules import the content agent, which imports the LLM package: defining it here would
make an import cycle). These are the same objects.
"""

from ..llm._limits import (
    LlmLimiter,
    LlmSlot,
    LlmSlotTimeout,
    ModelLimit,
    ModelUsage,
    clear_llm_limit,
    llm_limits,
    set_llm_limit,
)

__all__ = [
    "LlmLimiter",
    "LlmSlot",
    "LlmSlotTimeout",
    "ModelLimit",
    "ModelUsage",
    "clear_llm_limit",
    "llm_limits",
    "set_llm_limit",
]
