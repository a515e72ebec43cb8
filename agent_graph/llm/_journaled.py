"""JournaledChatOpenAI: ChatOpenAI whose answers inside durable nodes are journaled and priced."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import reduce
from operator import add
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun
from langchain_core.messages import BaseMessage, message_chunk_to_message
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_openai import ChatOpenAI
from pydantic import Field

from checkpointers import (
    JournalEntry,
    JournalKey,
    JournalLookup,
    LlmJournal,
    NewEvent,
    NewJournalEntry,
)

from ..runtime import NodeScope, current_scope
from ._budget import BudgetExceeded
from ._limits import LlmLimiter, LlmSlot
from ._pricing import PriceTable, estimate_usd
from ._records import (
    completion_allowance,
    estimated_usage,
    prompt_chars,
    redacted_request,
    replay_chunk,
    request_content,
    request_hash,
    response_model,
    result_from_json,
    result_to_json,
    usage_of,
)

logger = logging.getLogger(__name__)


def _next_occurrence(scope: NodeScope, digest: str) -> int:
    counts = scope.llm_requests
    occurrence = counts.get(digest, 0)
    counts[digest] = occurrence + 1
    return occurrence


@dataclass(frozen=True)
class _Call:
    """One LLM request made inside a durable node."""

    scope: NodeScope
    key: JournalKey
    model: str
    content: dict[str, Any]
    estimate: float

    @property
    def journal(self) -> LlmJournal:
        return self.scope.ctx.journal

    def event(self, kind: str, data: dict[str, Any]) -> NewEvent:
        run = self.scope.run
        base = {
            "model": self.model,
            "request_hash": self.key.request_hash,
            "occurrence": self.key.occurrence,
        }
        return NewEvent(
            run.thread_id,
            kind,
            run.node,
            run.task_id,
            self.scope.attempt,
            self.scope.ctx.owner,
            {**base, **data},
        )


class JournaledChatOpenAI(ChatOpenAI):
    """``ChatOpenAI`` that journals, prices and budgets its calls inside durable nodes.

    Inside a node wrapped by :func:`agent_graph.make_durable` (running on a durable saver),
    each request is keyed by thread, node, task, the sha256 of its content (model, messages,
    response format, tools, stop...) and its occurrence in the node execution:

    - a request already answered is read back from the journal, not sent (a node that runs
      again after a crash, an interrupt or a budget pause pays nothing twice); answers from an
      attempt that failed are not reused, its retry asks again;
    - otherwise, if the thread has a budget that the call could exceed (spend so far, calls in
      flight and this call's estimate: prompt characters / 4 at the prompt price plus
      ``max_tokens`` or ``completion_allowance`` at the completion price),
      :class:`BudgetExceeded` is raised before anything is sent;
    - else the provider is called and the answer, its token usage and its price (from
      ``prices``) are committed to the journal, with an ``llm_call`` event, before the
      node goes on. The request holds a slot of the fleet-wide limits of its model (see
      :func:`~agent_graph.llm.set_llm_limit`) while it is in flight, waiting for one when
      the fleet is at its limit; a journal hit takes none.

    Plain, structured (``with_structured_output``, any method) and streamed calls are covered;
    a replayed stream is one chunk. Outside durable nodes, and for the synchronous
    ``invoke``/``stream``, it is exactly ``ChatOpenAI``. A call that raised is not journaled
    (no answer, no usage: providers do not bill it).

    Args:
        prices: price table used to cost calls (OpenAI list prices, nominal for others).
        completion_allowance: completion tokens assumed by the budget check when the request
            sets no ``max_tokens``.
        limit_lease_seconds: how long the slot of a call whose process died stays taken
            (default: the request timeout times its attempts plus 30 s, else 180 s).
        (every other argument is ``ChatOpenAI``'s.)
    """

    prices: PriceTable = Field(default_factory=PriceTable.standard, exclude=True)
    completion_allowance: int = Field(default=500, ge=0)
    limit_lease_seconds: float | None = Field(default=None, gt=0)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        scope = current_scope()
        if scope is None:
            return await super()._agenerate(messages, stop, run_manager, **kwargs)
        call = self._call(scope, messages, stop, kwargs)
        found = await call.journal.lookup(call.key)
        if found.entry is not None:
            await self._replayed(call, found.entry)
            return result_from_json(found.entry.response)
        async with self._reserved(call, found):
            async with self._slot(call) as slot:
                result = await super()._agenerate(messages, stop, run_manager, **kwargs)
            await self._record(call, result, slot, streamed=False)
        return result

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        *,
        stream_usage: bool | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        scope = current_scope()
        if scope is None:
            async for chunk in super()._astream(
                messages, stop, run_manager, stream_usage=stream_usage, **kwargs
            ):
                yield chunk
            return
        call = self._call(scope, messages, stop, kwargs)
        found = await call.journal.lookup(call.key)
        if found.entry is not None:
            await self._replayed(call, found.entry)
            chunk = replay_chunk(found.entry.response)
            if run_manager is not None:
                await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk
            return
        if stream_usage is None and self.stream_usage is not False:
            stream_usage = True  # the journal prices the call from the reported usage
        chunks: list[ChatGenerationChunk] = []
        async with self._reserved(call, found):
            async with self._slot(call) as slot:
                async for chunk in super()._astream(
                    messages, stop, run_manager, stream_usage=stream_usage, **kwargs
                ):
                    chunks.append(chunk)
                    yield chunk
            if chunks:
                whole = reduce(add, chunks)
                generation = ChatGeneration(
                    message=message_chunk_to_message(whole.message),
                    generation_info=whole.generation_info,
                )
                result = ChatResult(generations=[generation])
                await self._record(call, result, slot, streamed=True)

    def _call(
        self,
        scope: NodeScope,
        messages: list[BaseMessage],
        stop: list[str] | None,
        kwargs: dict[str, Any],
    ) -> _Call:
        payload = self._get_request_payload(messages, stop=stop, **kwargs)
        content = request_content(payload)
        digest = request_hash(content)
        model = str(content.get("model") or self.model_name)
        price = self.prices.price_of(model)
        estimate = estimate_usd(
            price,
            prompt_chars(content),
            completion_allowance(content, self.completion_allowance),
        )
        key = JournalKey(
            thread_id=scope.run.thread_id,
            node=scope.run.node,
            task_id=scope.run.task_id or "",
            request_hash=digest,
            occurrence=_next_occurrence(scope, digest),
        )
        return _Call(scope, key, model, content, estimate)

    @contextlib.asynccontextmanager
    async def _reserved(self, call: _Call, found: JournalLookup) -> AsyncIterator[None]:
        """Check the thread's budget, then hold this call's estimate while it runs."""
        thread_id = call.key.thread_id
        in_flight = call.scope.ctx.llm_in_flight
        if found.budget_usd is not None:
            spent = found.spent_usd + in_flight.get(thread_id, 0.0)
            if spent + call.estimate > found.budget_usd:
                await call.scope.ctx.events.append_many(
                    [
                        call.event(
                            "budget_exceeded",
                            {
                                "spent_usd": spent,
                                "budget_usd": found.budget_usd,
                                "needed_usd": call.estimate,
                            },
                        )
                    ]
                )
                logger.info(
                    "thread %s paused before an LLM call: budget $%.6f, spent $%.6f",
                    thread_id,
                    found.budget_usd,
                    spent,
                    extra={"thread_id": thread_id, "node": call.key.node},
                )
                raise BudgetExceeded(
                    thread_id,
                    spent,
                    found.budget_usd,
                    needed=call.estimate,
                    node=call.key.node,
                )
        in_flight[thread_id] = in_flight.get(thread_id, 0.0) + call.estimate
        try:
            yield
        finally:
            left = in_flight.get(thread_id, 0.0) - call.estimate
            if left > 1e-12:
                in_flight[thread_id] = left
            else:
                in_flight.pop(thread_id, None)

    def _slot(self, call: _Call) -> contextlib.AbstractAsyncContextManager[LlmSlot]:
        """Hold a fleet-wide call slot of the model for the request (see :class:`LlmLimiter`)."""
        limiter = LlmLimiter.shared(call.scope.ctx.pool)
        return limiter.acquire(call.model, lease_seconds=self._lease_seconds())

    def _lease_seconds(self) -> float:
        if self.limit_lease_seconds is not None:
            return self.limit_lease_seconds
        timeout = self.request_timeout
        if isinstance(timeout, int | float) and timeout > 0:
            attempts = 1 + (self.max_retries if self.max_retries is not None else 2)
            return float(timeout) * attempts + 30.0
        return 180.0

    async def _record(
        self, call: _Call, result: ChatResult, slot: LlmSlot, *, streamed: bool
    ) -> None:
        """Commit the answer, its usage and price, and an ``llm_call`` event, together (in a
        transaction shared with other threads' answers when several arrive at once)."""
        usage = usage_of(result)
        estimated = usage is None
        prompt_tokens, completion_tokens = usage or estimated_usage(call.content, result)
        model = response_model(result, call.model)
        usd = self.prices.cost(model, prompt_tokens, completion_tokens)
        response = result_to_json(result)
        if estimated:
            response["usage_estimated"] = True
        entry = NewJournalEntry(
            key=call.key,
            attempt=call.scope.attempt,
            model=call.model,
            request=redacted_request(call.content),
            response=response,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            usd=usd,
            owner=call.scope.ctx.owner,
        )
        event = call.event(
            "llm_call",
            {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "usd": usd,
                "estimate_usd": call.estimate,
                "streamed": streamed,
                "usage_estimated": estimated,
                "limit_wait_s": round(slot.waited_seconds, 3),
            },
        )
        await call.journal.record_shared(entry, event)

    async def _replayed(self, call: _Call, entry: JournalEntry) -> None:
        """Log that an answer was read back (what it would have cost is what was saved)."""
        event = call.event(
            "llm_replayed",
            {
                "journal_id": entry.id,
                "prompt_tokens": entry.prompt_tokens,
                "completion_tokens": entry.completion_tokens,
                "usd": entry.usd,
                "recorded_at": entry.created_at.isoformat(),
                "recorded_by": entry.owner,
            },
        )
        await call.scope.ctx.events.append_many([event])
        logger.debug(
            "replayed LLM answer from the journal",
            extra={"thread_id": call.key.thread_id, "node": call.key.node},
        )
