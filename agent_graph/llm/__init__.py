"""LLM calls inside durable nodes: a response journal, cost accounting and per-thread budgets.

- :class:`JournaledChatOpenAI`: ``ChatOpenAI`` whose answers are journaled in Postgres before the
  node goes on, read back instead of paid again when an interrupted node runs again, priced,
  and checked against the thread's budget;
- :class:`PriceTable` / :class:`ModelPrice`: dollars per million tokens per model (OpenAI list
  prices, a nominal price for the rest), overridable;
- :class:`BudgetExceeded`: raised before a call that would take a thread over its budget;
- :func:`thread_cost` / :class:`CostSummary`: tokens, dollars, replays and savings per thread
  and node; :class:`LlmJournal` reads the journal and sets budgets.
"""

from checkpointers import CostSummary, JournalEntry, LlmJournal, NodeCost, thread_cost

from ._budget import BudgetExceeded
from ._journaled import JournaledChatOpenAI
from ._pricing import NOMINAL_PRICE, ModelPrice, PriceTable

__all__ = [
    "NOMINAL_PRICE",
    "BudgetExceeded",
    "CostSummary",
    "JournalEntry",
    "JournaledChatOpenAI",
    "LlmJournal",
    "ModelPrice",
    "NodeCost",
    "PriceTable",
    "thread_cost",
]
