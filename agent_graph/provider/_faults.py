"""Fault plans: which requests the offline provider fails, and how.

A plan is a comma-separated list of rules::

    TARGET[~SUBSTRING]:KIND[(ARG)][=RATE | @N[+N...]]

``TARGET`` is one of ``chat``, ``search``, ``pages``, ``cms``, ``notify`` or ``*``. ``~SUBSTRING``
limits the rule to requests whose body or query text contains SUBSTRING (case-sensitive). ``=RATE``
fails that fraction of matching requests, ``@1+3`` fails exactly the 1st and 3rd matching request;
with neither, every matching request fails. The first rule that fires wins.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from policies._errors import ConfigurationError

TARGETS = ("chat", "search", "pages", "cms", "notify", "*")


@dataclass(frozen=True)
class FaultKind:
    """How one kind of fault answers: HTTP status, OpenAI error type/code, optional argument."""

    status: int
    error_type: str
    code: str | None
    message: str
    default_arg: float | None = None
    retry_header: bool = False


KINDS: dict[str, FaultKind] = {
    "rate_limit": FaultKind(
        429,
        "requests",
        "rate_limit_exceeded",
        "Rate limit reached for requests. Please try again in {ms}ms.",
        default_arg=0.2,
        retry_header=True,
    ),
    "quota": FaultKind(
        429,
        "insufficient_quota",
        "insufficient_quota",
        "You exceeded your current quota, please check your plan and billing details.",
    ),
    "server_error": FaultKind(
        500,
        "server_error",
        "server_error",
        "The server had an error while processing your request. Sorry about that!",
    ),
    "bad_gateway": FaultKind(502, "server_error", "bad_gateway", "Bad gateway."),
    "unavailable": FaultKind(
        503,
        "server_error",
        "service_unavailable",
        "The server is overloaded or not ready yet. Please try again in {ms}ms.",
        default_arg=1.0,
        retry_header=True,
    ),
    "timeout": FaultKind(200, "", None, "", default_arg=30.0),
    "bad_request": FaultKind(
        400, "invalid_request_error", "invalid_request_error", "The request is malformed."
    ),
    "context_length": FaultKind(
        400,
        "invalid_request_error",
        "context_length_exceeded",
        "This model's maximum context length is 8192 tokens. However, your messages resulted "
        "in more tokens. Please reduce the length of the messages.",
    ),
    "content_filter": FaultKind(
        400,
        "invalid_request_error",
        "content_policy_violation",
        "Your request was rejected as a result of our safety system.",
    ),
    "finish_content_filter": FaultKind(200, "", None, ""),
    "auth": FaultKind(
        401,
        "invalid_request_error",
        "invalid_api_key",
        "Incorrect API key provided. You can find your API key in your account settings.",
    ),
    "forbidden": FaultKind(
        403, "permission_error", "forbidden", "You are not allowed to access this resource."
    ),
    "not_found": FaultKind(
        404, "invalid_request_error", "not_found", "The requested resource does not exist."
    ),
    "unprocessable": FaultKind(
        422, "invalid_request_error", "unprocessable_entity", "The request could not be processed."
    ),
}

SYNTAX = (
    "TARGET[~SUBSTRING]:KIND[(SECONDS)][=RATE | @N[+N...]] separated by commas; "
    f"TARGET one of {', '.join(TARGETS)}; KIND one of {', '.join(KINDS)}"
)

_RULE_RE = re.compile(
    r"^(?P<target>[a-z*]+)"
    r"(?:~(?P<sub>[^:]+))?"
    r":(?P<kind>[a-z_]+)"
    r"(?:\((?P<arg>[^)]*)\))?"
    r"(?:=(?P<rate>[^@]+)|@(?P<ords>[^=]+))?$"
)


@dataclass(frozen=True)
class FaultRule:
    """One rule of a :class:`FaultPlan` (see the module docstring for the syntax)."""

    target: str
    kind: str
    substring: str | None = None
    arg: float | None = None
    rate: float | None = None
    ordinals: frozenset[int] = field(default_factory=frozenset)

    @property
    def spec(self) -> str:
        """The rule in canonical spec syntax."""
        text = self.target
        if self.substring is not None:
            text += f"~{self.substring}"
        text += f":{self.kind}"
        if self.arg is not None:
            text += f"({self.arg:g})"
        if self.rate is not None:
            text += f"={self.rate:g}"
        elif self.ordinals:
            text += "@" + "+".join(str(n) for n in sorted(self.ordinals))
        return text

    @property
    def seconds(self) -> float:
        """The rule's argument, or its kind's default (0 when the kind takes none)."""
        if self.arg is not None:
            return self.arg
        return KINDS[self.kind].default_arg or 0.0

    def applies_to(self, target: str) -> bool:
        """Whether the rule covers requests of ``target`` (``finish_content_filter``: chat only)."""
        if self.kind == "finish_content_filter" and target != "chat":
            return False
        return self.target in ("*", target)


@dataclass(frozen=True)
class FaultPlan:
    """An ordered, immutable set of :class:`FaultRule`; empty means no faults."""

    rules: tuple[FaultRule, ...] = ()

    @property
    def spec(self) -> str:
        """The plan in canonical spec syntax (``""`` for no faults)."""
        return ",".join(rule.spec for rule in self.rules)

    def __str__(self) -> str:
        return self.spec

    def __bool__(self) -> bool:
        return bool(self.rules)


def parse_faults(spec: str) -> FaultPlan:
    """Parse a fault spec such as ``"chat:rate_limit(0.5)@1+2,search:timeout(2)=0.1"``.

    Args:
        spec: comma-separated rules; empty or ``"none"`` means no faults.

    Raises:
        ConfigurationError: naming the malformed rule and giving the accepted syntax.
    """
    text = spec.strip()
    if not text or text.lower() == "none":
        return FaultPlan()
    rules = tuple(_parse_rule(part.strip()) for part in text.split(","))
    return FaultPlan(rules)


def _bad(part: str, why: str) -> ConfigurationError:
    return ConfigurationError(
        f"invalid fault rule {part!r}: {why}",
        hint=f"write rules as {SYNTAX}, e.g. 'chat:rate_limit(0.5)@1+2,search:timeout=0.1'",
    )


def _parse_rule(part: str) -> FaultRule:
    if not part:
        raise _bad(part, "empty rule (stray comma?)")
    match = _RULE_RE.match(part)
    if match is None:
        raise _bad(part, "does not match the rule syntax")
    target, kind = match["target"], match["kind"]
    if target not in TARGETS:
        raise _bad(part, f"unknown target {target!r}")
    if kind not in KINDS:
        raise _bad(part, f"unknown kind {kind!r}")
    if kind == "finish_content_filter" and target not in ("chat", "*"):
        raise _bad(part, "finish_content_filter only applies to chat")
    arg = None
    if match["arg"] is not None:
        if KINDS[kind].default_arg is None:
            raise _bad(part, f"kind {kind!r} takes no argument")
        arg = _number(part, match["arg"], "argument")
        if arg < 0:
            raise _bad(part, "the argument (seconds) must be >= 0")
    rate = None
    if match["rate"] is not None:
        rate = _number(part, match["rate"], "rate")
        if not 0.0 <= rate <= 1.0:
            raise _bad(part, "the rate must be between 0 and 1")
    ordinals: frozenset[int] = frozenset()
    if match["ords"] is not None:
        numbers = match["ords"].split("+")
        if not all(n.strip().isdigit() and int(n) >= 1 for n in numbers):
            raise _bad(part, "ordinals must be positive integers joined by '+', e.g. @1+3")
        ordinals = frozenset(int(n) for n in numbers)
    substring = match["sub"]
    return FaultRule(target, kind, substring, arg, rate, ordinals)


def _number(part: str, text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise _bad(part, f"the {what} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise _bad(part, f"the {what} {text!r} is not a finite number")
    return value
