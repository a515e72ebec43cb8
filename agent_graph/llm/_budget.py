"""BudgetExceeded: a thread's next LLM call would take its spend over its budget."""

from __future__ import annotations

from langgraph.errors import GraphBubbleUp

from policies._errors import DurableAgentError


class BudgetExceeded(GraphBubbleUp, DurableAgentError):
    """Raised before an LLM call that would take a thread's spend over its budget.

    It derives from LangGraph's ``GraphBubbleUp``: the durable wrapper does not classify or
    retry it, sibling tasks of the same step finish and keep their writes, and the run stops
    with the interrupted node pending, so raising the budget and resuming goes on from there
    (answers already received are read back from the journal, not paid again).

    Args:
        thread_id: the thread.
        spent: US dollars its LLM calls have cost so far.
        budget: its budget in US dollars.
        needed: the estimated cost of the call that was not made.
        node: the node that wanted to make it.
    """

    def __init__(
        self,
        thread_id: str,
        spent: float,
        budget: float,
        *,
        needed: float = 0.0,
        node: str | None = None,
    ) -> None:
        where = f" in node {node!r}" if node else ""
        DurableAgentError.__init__(
            self,
            f"thread {thread_id!r} paused{where}: its LLM spend ${spent:.6f} plus the next "
            f"call (about ${needed:.6f}) would exceed its budget ${budget:.6f}",
            hint=f"raise the budget and resume: `agent-graph resume {thread_id} --budget-usd X`",
        )
        self.thread_id = thread_id
        self.spent = spent
        self.budget = budget
        self.needed = needed
        self.node = node
