"""Offline OpenAI-compatible provider: chat completions, search, web pages, CMS, notifications.

Deterministic (an answer is a function of the request and the seed, never of time or order) and
able to inject faults (429 with Retry-After, 5xx, hangs, 400s, quota, content filter), so the real
``openai`` and ``ChatOpenAI`` client code runs in tests and demos without a network or an API key.

Run it with ``python -m agent_graph.provider --port 8765``, or in tests with
:class:`BackgroundProvider`. Endpoints:

- ``POST /v1/chat/completions`` (alias ``/chat/completions``): text, ``json_schema`` and
  ``json_object`` response formats, forced tool calls, SSE streaming with usage.
- ``GET /search?q=&n=5`` and ``GET /pages/{page_id}`` (HTML).
- ``/cms/assets``, ``/cms/posts`` (publish, unpublish, delete) and ``/notify`` (retract), all
  honouring ``Idempotency-Key``.
- ``GET /_health``, ``GET /_stats``, ``POST /_reset``, ``GET|PUT /_faults``.

``/_stats`` counts: ``chat_completions`` (requests received, faulted ones included),
``chat_completions_ok`` (completions delivered), ``prompt_tokens``/``completion_tokens`` (of
delivered completions), ``searches``/``page_fetches`` (received) and their ``_ok`` twins (answered
200), and per slug: ``publishes`` (publish requests that reached the CMS, replays included),
``live`` and ``posts`` and ``assets`` (existing now), ``notifications`` (sent, replays excluded),
``retractions``, ``post_deletes`` and ``asset_deletes`` (delete requests, replays included);
``faults_injected`` per ``target:kind``. A faulted request never reaches the CMS.
"""

from agent_graph.provider._app import create_app
from agent_graph.provider._config import ProviderConfig
from agent_graph.provider._faults import FaultPlan, FaultRule, parse_faults
from agent_graph.provider._process import (
    BackgroundProvider,
    ProviderError,
    fetch_stats,
    serve,
)

__all__ = [
    "BackgroundProvider",
    "FaultPlan",
    "FaultRule",
    "ProviderConfig",
    "ProviderError",
    "create_app",
    "fetch_stats",
    "parse_faults",
    "serve",
]
