"""LLM calls inside durable nodes: a response journal, cost accounting and per-thread budgets.

- :class:`JournaledChatOpenAI`: ``ChatOpenAI`` whose answers are journaled in Postgres before the
  node goes on, read back instead of paid again when an interrupted node runs again, priced,
  and checked against the thread's budget;
- :class:`PriceTable` / :class:`ModelPrice`: dollars per million tokens per model (OpenAI list
  prices, a nominal price for the rest), overridable;
- :class:`BudgetExceeded`: raised before a call that would take a thread over its budget;
- :func:`thread_cost` / :class:`CostSummary`: tokens, dollars, replays and savings per thread
  and node; :class:`LlmJournal` reads the journal and sets budgets;
- :func:`set_llm_limit` / :func:`clear_llm_limit` / :func:`llm_limits`: fleet-wide limits per
  model (calls in flight, requests per minute) held in Postgres, which every
  ``JournaledChatOpenAI`` request respects; :class:`LlmLimiter` takes slots by hand.
"""

from checkpointers import CostSummary, JournalEntry, LlmJournal, NodeCost, thread_cost

from ._budget import BudgetExceeded
from ._journaled import JournaledChatOpenAI
from ._limits import (
    LlmLimiter,
    LlmSlot,
    LlmSlotTimeout,
    ModelLimit,
    ModelUsage,
    clear_llm_limit,
    llm_limits,
    set_llm_limit,
)
from ._pricing import NOMINAL_PRICE, ModelPrice, PriceTable

__all__ = [
    "NOMINAL_PRICE",
    "BudgetExceeded",
    "CostSummary",
    "JournalEntry",
    "JournaledChatOpenAI",
    "LlmJournal",
    "LlmLimiter",
    "LlmSlot",
    "LlmSlotTimeout",
    "ModelLimit",
    "ModelPrice",
    "ModelUsage",
    "NodeCost",
    "PriceTable",
    "clear_llm_limit",
    "llm_limits",
    "set_llm_limit",
    "thread_cost",
]
