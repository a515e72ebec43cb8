"""Failpoints: named places where a process can be told to kill itself, for chaos testing.

A failpoint spec is a comma- or semicolon-separated list of ``POINT=ACTION`` rules, read from the
``AGENT_GRAPH_FAILPOINTS`` environment variable by the CLI. Points are
``node:NAME:start``, ``node:NAME:end``, ``node:NAME:backoff`` (a failed attempt is recorded and
the backoff is about to start), ``llm:NODE:response``, ``effect:NAME:before``,
``effect:NAME:after``, ``checkpoint:put`` and ``checkpoint:put_writes``; any segment may be ``*``.
Actions are ``kill`` (SIGKILL this process), ``exit`` (``os._exit(70)``) and ``raise`` (raise
:class:`FailpointError`). An action may carry ``@N`` (fire on the N-th hit only) or ``%P`` (fire
with probability P, 0 < P <= 1)::

    AGENT_GRAPH_FAILPOINTS="node:fact_check:start=kill"
    AGENT_GRAPH_FAILPOINTS="node:draft_section:start=kill@2,llm:*:response=kill%0.05"
"""

from __future__ import annotations

import fnmatch
import logging
import os
import random
import re
import signal
import threading
from dataclasses import dataclass, field
from typing import Any, Literal
from uuid import UUID

from langchain_core.callbacks import AsyncCallbackHandler
from langchain_core.outputs import LLMResult

from policies._errors import ConfigurationError

logger = logging.getLogger(__name__)

Action = Literal["kill", "exit", "raise"]
_RULE = re.compile(
    r"^(?P<point>[A-Za-z0-9_*.:-]+)=(?P<action>kill|exit|raise)"
    r"(?:@(?P<nth>\d+)|%(?P<prob>0?\.\d+|1(?:\.0*)?))?$"
)


class FailpointError(RuntimeError):
    """Raised by a failpoint whose action is ``raise``."""


@dataclass(frozen=True)
class FailpointRule:
    """One parsed rule: where, what, and when."""

    pattern: str
    action: Action
    nth: int | None = None
    probability: float | None = None


@dataclass
class Failpoints:
    """A set of failpoint rules with per-process hit counters.

    Args:
        rules: the parsed rules; an empty tuple makes :meth:`hit` a no-op.
        seed: seeds the random source used by ``%P`` rules.
    """

    rules: tuple[FailpointRule, ...] = ()
    seed: int | None = None
    _hits: dict[str, int] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _random: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        if self.seed is not None:
            self._random.seed(self.seed)

    @classmethod
    def parse(cls, spec: str | None, *, seed: int | None = None) -> Failpoints:
        """Parse a spec such as ``node:fact_check:start=kill``.

        Raises:
            ConfigurationError: a rule does not follow ``POINT=ACTION[@N|%P]``.
        """
        rules: list[FailpointRule] = []
        for raw in re.split(r"[,;]", spec or ""):
            text = raw.strip()
            if not text:
                continue
            match = _RULE.match(text)
            if match is None:
                raise ConfigurationError(
                    f"malformed failpoint rule {text!r}",
                    hint="write POINT=ACTION[@N|%P], e.g. node:fact_check:start=kill or "
                    "llm:*:response=kill%0.1 (actions: kill, exit, raise)",
                )
            nth = int(match["nth"]) if match["nth"] else None
            if nth == 0:
                raise ConfigurationError(
                    f"failpoint rule {text!r} counts hits from 1", hint="use @1 for the first hit"
                )
            prob = float(match["prob"]) if match["prob"] else None
            rules.append(FailpointRule(match["point"], match["action"], nth, prob))  # type: ignore[arg-type]
        return cls(tuple(rules), seed)

    def __bool__(self) -> bool:
        return bool(self.rules)

    def watches(self, prefix: str) -> bool:
        """Whether a rule may fire at points starting with ``prefix`` (e.g. ``"llm:"``)."""
        return any(
            rule.pattern.startswith(prefix) or rule.pattern.startswith("*") for rule in self.rules
        )

    def hit(self, point: str) -> None:
        """Count a pass through ``point`` and carry out the first rule that fires."""
        if not self.rules:
            return
        for rule in self.rules:
            if not fnmatch.fnmatchcase(point, rule.pattern):
                continue
            with self._lock:
                count = self._hits.get(rule.pattern, 0) + 1
                self._hits[rule.pattern] = count
                roll = self._random.random()
            if rule.nth is not None and count != rule.nth:
                continue
            if rule.probability is not None and roll >= rule.probability:
                continue
            self._fire(point, rule)

    @staticmethod
    def _fire(point: str, rule: FailpointRule) -> None:
        logger.warning("failpoint %s fired: %s", point, rule.action, extra={"failpoint": point})
        if rule.action == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if rule.action == "exit":
            os._exit(70)
        raise FailpointError(f"failpoint {point} fired")


NO_FAILPOINTS = Failpoints()


class LlmFailpoints(AsyncCallbackHandler):
    """Fires ``llm:NODE:response`` failpoints once a model response has arrived."""

    def __init__(self, failpoints: Failpoints) -> None:
        self.failpoints = failpoints
        self.nodes: dict[UUID, str] = {}

    async def on_chat_model_start(
        self, serialized: dict[str, Any], messages: Any, *, run_id: UUID, **kwargs: Any
    ) -> None:
        metadata = kwargs.get("metadata") or {}
        self.nodes[run_id] = str(metadata.get("langgraph_node", "*"))

    async def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        node = self.nodes.pop(run_id, "*")
        self.failpoints.hit(f"llm:{node}:response")
