"""The provider's Starlette app: routing, fault guard, latency, stats and admin endpoints."""

from __future__ import annotations

import asyncio
import json
import os
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from agent_graph.provider import _cms, _web
from agent_graph.provider._chat import ChatRequestError, complete, parse_request, respond
from agent_graph.provider._config import ProviderConfig
from agent_graph.provider._faults import parse_faults
from agent_graph.provider._inject import FaultInjector, error_response, fault_response, hang
from policies._errors import ConfigurationError

Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass
class ProviderState:
    """Everything the running provider remembers; cleared by ``POST /_reset`` (except faults)."""

    config: ProviderConfig
    counters: Counter[str] = field(default_factory=Counter)
    cms: _cms.CmsStore = field(default_factory=_cms.CmsStore)
    faults: FaultInjector = field(init=False)

    def __post_init__(self) -> None:
        self.faults = FaultInjector(self.config.faults, self.config.seed)

    def reset(self) -> None:
        """Clear counters, CMS state and fault bookkeeping; keep the fault plan."""
        self.counters.clear()
        self.cms.clear()
        self.faults.reset()

    def stats(self) -> dict[str, Any]:
        """The ``/_stats`` document."""
        names = (
            "chat_completions",
            "chat_completions_ok",
            "prompt_tokens",
            "completion_tokens",
            "searches",
            "searches_ok",
            "page_fetches",
            "page_fetches_ok",
        )
        return {
            **{name: self.counters[name] for name in names},
            **self.cms.stats(),
            "faults_injected": dict(self.faults.injected),
        }


def _gone() -> JSONResponse:
    return error_response(499, "client closed the request", "client_closed_request", None)


def create_app(config: ProviderConfig) -> Starlette:
    """Build the provider's ASGI application.

    Args:
        config: seed, latency and fault plan.

    Returns:
        A Starlette app serving ``/v1/chat/completions``, ``/search``, ``/pages/{id}``, the CMS
        (``/cms/...``), ``/notify`` and the admin endpoints ``/_health``, ``/_stats``,
        ``/_reset`` and ``/_faults``.
    """
    state = ProviderState(config)
    side_latency = config.latency / 5

    async def chat(request: Request) -> Response:
        raw = await request.body()
        state.counters["chat_completions"] += 1
        try:
            body: Any = json.loads(raw)
        except ValueError:
            return error_response(400, "the body is not valid JSON", "invalid_request_error", None)
        model = body.get("model") if isinstance(body, dict) else None
        rule = state.faults.check("chat", request, raw)
        content_filter = False
        if rule is not None:
            if rule.kind == "timeout":
                if not await hang(request, rule.seconds):
                    return _gone()
            elif rule.kind == "finish_content_filter":
                content_filter = True
            else:
                return fault_response(rule, "chat", model if isinstance(model, str) else None)
        try:
            parsed = parse_request(body)
        except ChatRequestError as exc:
            return exc.response()
        if config.latency:
            await asyncio.sleep(config.latency)
            if await request.is_disconnected():
                return _gone()  # the client gave up: nothing delivered, nothing counted
        base_url = str(request.base_url).rstrip("/")
        completion = complete(parsed, config.seed, base_url, content_filter=content_filter)
        if not content_filter:
            state.counters["chat_completions_ok"] += 1
            state.counters["prompt_tokens"] += completion.prompt_tokens
            state.counters["completion_tokens"] += completion.completion_tokens
        return respond(completion, parsed)

    def guarded(target: str, counter: str | None, handler: _cms.Handler) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            raw = await request.body()
            if counter:
                state.counters[counter] += 1
            rule = state.faults.check(target, request, raw)
            if rule is not None:
                if rule.kind != "timeout":
                    return fault_response(rule, target)
                if not await hang(request, rule.seconds):
                    return _gone()
            if side_latency:
                await asyncio.sleep(side_latency)
            response = handler(request, raw)
            if counter and response.status_code == 200:
                state.counters[f"{counter}_ok"] += 1
            return response

        return endpoint

    def search(request: Request, raw: bytes) -> Response:
        query = request.query_params.get("q", "").strip()
        if not query:
            return error_response(400, "missing query parameter 'q'", "invalid_request_error", None)
        try:
            n = int(request.query_params.get("n", "5"))
        except ValueError:
            n = 0
        if not 1 <= n <= _web.MAX_RESULTS:
            message = f"'n' must be an integer between 1 and {_web.MAX_RESULTS}"
            return error_response(400, message, "invalid_request_error", None, "n")
        base = str(request.base_url).rstrip("/")
        results = [
            {"url": f"{base}/pages/{page_id}", "title": page.title, "snippet": page.snippet}
            for page_id, page in _web.search(config.seed, query, n)
        ]
        return JSONResponse({"query": query, "results": results})

    def page(request: Request, raw: bytes) -> Response:
        found = _web.render_page(config.seed, request.path_params["page_id"])
        if found is None:
            return error_response(404, "no such page", "invalid_request_error", "not_found")
        return HTMLResponse(found.html())

    async def health(request: Request) -> Response:
        # The pid header lets a launcher tell its own child from another server on the port.
        return JSONResponse({"ok": True}, headers={"x-provider-pid": str(os.getpid())})

    async def stats(request: Request) -> Response:
        return JSONResponse(state.stats())

    async def reset(request: Request) -> Response:
        state.reset()
        return JSONResponse({"ok": True})

    async def faults(request: Request) -> Response:
        if request.method == "PUT":
            try:
                body = json.loads(await request.body())
                spec = body["spec"] if isinstance(body, dict) else None
                if not isinstance(spec, str):
                    raise ConfigurationError(
                        "PUT /_faults needs a JSON body {'spec': '...'}",
                        hint="send {'spec': ''} to remove every fault",
                    )
                state.faults.replace(parse_faults(spec))
            except (ValueError, KeyError, ConfigurationError) as exc:
                return error_response(400, str(exc), "invalid_request_error", "invalid_fault_spec")
        return JSONResponse({"spec": state.faults.plan.spec})

    async def models(request: Request) -> Response:
        model = {"id": "offline", "object": "model", "created": 1_700_000_000}
        model["owned_by"] = "offline"
        return JSONResponse({"object": "list", "data": [model]})

    routes = [
        Route("/v1/chat/completions", chat, methods=["POST"]),
        Route("/chat/completions", chat, methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/search", guarded("search", "searches", search), methods=["GET"]),
        Route("/pages/{page_id}", guarded("pages", "page_fetches", page), methods=["GET"]),
        Route("/_health", health, methods=["GET"]),
        Route("/_stats", stats, methods=["GET"]),
        Route("/_reset", reset, methods=["POST"]),
        Route("/_faults", faults, methods=["GET", "PUT"]),
    ]
    for method, path, handler in _cms.routes(state.cms):
        target = "notify" if path.startswith("/notify") else "cms"
        routes.append(Route(path, guarded(target, None, handler), methods=[method]))
    app = Starlette(routes=routes)
    app.state.provider = state
    return app
