"""Runtime side of fault injection: deciding whether a request fails and answering like OpenAI.

Ordinals (``@N``) count the requests each rule has matched. Rates (``=R``) are decided by a hash of
(seed, rule, request content, how many times this same content has been seen), so a retried request
gets a fresh draw and a batch of distinct requests fails the same way whatever the interleaving.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from typing import Any
from urllib.parse import unquote_plus

from starlette.requests import Request
from starlette.responses import JSONResponse

from agent_graph.provider._faults import KINDS, FaultPlan, FaultRule
from agent_graph.provider._text import hexdigest, unit_interval

logger = logging.getLogger(__name__)

_HANG_POLL = 0.05


def error_body(message: str, error_type: str, code: str | None, param: str | None = None) -> Any:
    """Return an error payload in OpenAI's shape."""
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


def error_response(
    status: int, message: str, error_type: str, code: str | None, param: str | None = None
) -> JSONResponse:
    """Return a JSON error response in OpenAI's shape."""
    return JSONResponse(error_body(message, error_type, code, param), status_code=status)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


class FaultInjector:
    """Holds the current :class:`FaultPlan`, its per-rule counters and the seen-content counts."""

    def __init__(self, plan: FaultPlan, seed: int) -> None:
        self._seed = seed
        self._seen: Counter[str] = Counter()
        self.injected: Counter[str] = Counter()
        self.plan = plan
        self._matched: list[int] = [0] * len(plan.rules)

    def replace(self, plan: FaultPlan) -> None:
        """Install ``plan`` with fresh ordinal counters."""
        self.plan = plan
        self._matched = [0] * len(plan.rules)
        logger.info("fault plan replaced", extra={"fault_spec": plan.spec})

    def reset(self) -> None:
        """Forget seen requests, ordinal counters and injected-fault counts; keep the plan."""
        self._seen.clear()
        self.injected.clear()
        self._matched = [0] * len(self.plan.rules)

    def check(self, target: str, request: Request, body: bytes) -> FaultRule | None:
        """Return the rule that fails this request, or None; counts the injection."""
        if not self.plan.rules:
            return None
        query = unquote_plus(request.url.query)
        try:
            parsed: Any = json.loads(body) if body else None
        except ValueError:
            parsed = body.decode("utf-8", "replace")
        content_key = hexdigest(request.method, request.url.path, query, parsed, length=32)
        self._seen[content_key] += 1
        occurrence = self._seen[content_key]
        haystack = "\n".join(
            [request.url.path, query, body.decode("utf-8", "replace"), *_strings(parsed)]
        )
        chosen: FaultRule | None = None
        for index, rule in enumerate(self.plan.rules):
            if not rule.applies_to(target):
                continue
            if rule.substring is not None and rule.substring not in haystack:
                continue
            self._matched[index] += 1
            if chosen is None and self._fires(index, rule, content_key, occurrence):
                chosen = rule
        if chosen is not None:
            self.injected[f"{target}:{chosen.kind}"] += 1
            logger.info(
                "fault injected",
                extra={"target": target, "fault": chosen.spec, "path": request.url.path},
            )
        return chosen

    def _fires(self, index: int, rule: FaultRule, content_key: str, occurrence: int) -> bool:
        if rule.rate is not None:
            draw = unit_interval(self._seed, index, rule.spec, content_key, occurrence)
            return draw < rule.rate
        if rule.ordinals:
            return self._matched[index] in rule.ordinals
        return True


def fault_response(rule: FaultRule, target: str, model: str | None = None) -> JSONResponse:
    """Answer a request failed by ``rule`` the way OpenAI would (status, body, headers)."""
    kind = KINDS[rule.kind]
    seconds = rule.seconds
    message = kind.message.format(ms=round(seconds * 1000))
    code = kind.code
    if rule.kind == "not_found" and target == "chat":
        code = "model_not_found"
        message = (
            f"The model `{model or 'unknown'}` does not exist or you do not have access to it."
        )
    param = "messages" if rule.kind == "context_length" else None
    response = error_response(kind.status, message, kind.error_type, code, param)
    if kind.retry_header:
        response.headers["retry-after"] = f"{seconds:g}"
        response.headers["retry-after-ms"] = str(round(seconds * 1000))
    if rule.kind == "rate_limit":
        response.headers["x-ratelimit-remaining-requests"] = "0"
        response.headers["x-ratelimit-reset-requests"] = f"{round(seconds * 1000)}ms"
    response.headers["x-offline-fault"] = rule.spec
    return response


async def hang(request: Request, seconds: float) -> bool:
    """Sleep ``seconds`` unless the client goes away first; return True if it is still there."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            return True
        await asyncio.sleep(min(_HANG_POLL, remaining))
        if await request.is_disconnected():
            return False
