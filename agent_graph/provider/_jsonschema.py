"""Generate a JSON value that validates against a JSON Schema, worded after a prompt's topic.

Covers what OpenAI structured outputs and pydantic emit: objects, arrays, scalars with bounds,
``enum``/``const``, ``format``, ``anyOf``/``oneOf``/``allOf``, ``$ref`` into ``$defs``, nullable
types. Property names steer the wording (``slug``, ``title``, ``url``, ``queries``, ...).
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass
from typing import Any

from agent_graph.provider._regex import example
from agent_graph.provider._text import Topic, prose, short_phrase, slugify, title_case
from agent_graph.provider._web import page_id

JsonSchema = dict[str, Any]

_MAX_DEPTH = 16
# Booleans named like a problem ("needs_revision", "has_errors") default to false.
_NEGATIVE_TEXT = "error fail reject block revis issue problem missing needs flag violat spam unsafe"
_NEGATIVE_FLAGS = tuple(_NEGATIVE_TEXT.split())
# Strings named like these get a few sentences of prose.
_PROSE_TEXT = """description summary content body text markdown paragraph answer explanation
reason rationale feedback notes note intro introduction conclusion abstract"""
_PROSE_NAMES = tuple(_PROSE_TEXT.split())


@dataclass
class _Context:
    root: JsonSchema
    topic: Topic
    rng: random.Random
    base_url: str


def generate(schema: JsonSchema, topic: Topic, rng: random.Random, base_url: str) -> Any:
    """Return a value valid against ``schema``.

    Args:
        schema: a JSON Schema (draft 2020-12 subset, as sent by OpenAI clients).
        topic: what strings should talk about.
        rng: source of deterministic choices.
        base_url: this server's base URL, used for ``url``-like strings.
    """
    return _value(schema, _Context(schema, topic, rng, base_url.rstrip("/")), "", 0, _Trail())


def _resolve(ref: str, ctx: _Context) -> JsonSchema:
    if not ref.startswith("#"):
        return {}
    node: Any = ctx.root
    for part in ref[1:].split("/"):
        if not part:
            continue
        part = part.replace("~1", "/").replace("~0", "~")
        node = node.get(part, {}) if isinstance(node, dict) else {}
    return node if isinstance(node, dict) else {}


def _merge_all_of(schema: JsonSchema, ctx: _Context) -> JsonSchema:
    merged: JsonSchema = {k: v for k, v in schema.items() if k != "allOf"}
    for part in schema["allOf"]:
        sub = _resolve(part["$ref"], ctx) if "$ref" in part else part
        for key, value in sub.items():
            if key in ("properties", "$defs") and isinstance(value, dict):
                merged[key] = {**merged.get(key, {}), **value}
            elif key == "required" and isinstance(value, list):
                merged[key] = sorted({*merged.get(key, []), *value})
            else:
                merged.setdefault(key, value)
    return merged


def _is_null(schema: Any) -> bool:
    return isinstance(schema, dict) and (
        schema.get("type") == "null" or ("const" in schema and schema["const"] is None)
    )


@dataclass(frozen=True)
class _Trail:
    """Where the generator is: nesting depth, ``$ref`` targets on the path, minimal mode."""

    depth: int = 0
    refs: tuple[str, ...] = ()
    minimal: bool = False

    def deeper(self, ref: str | None = None) -> _Trail:
        if ref is None:
            return _Trail(self.depth + 1, self.refs, self.minimal or self.depth >= _MAX_DEPTH)
        # A $ref already on the path means recursion: from here on, produce as little as valid.
        recursive = self.minimal or ref in self.refs or self.depth >= _MAX_DEPTH
        return _Trail(self.depth + 1, (*self.refs, ref), recursive)


def _value(schema: Any, ctx: _Context, name: str, index: int, trail: _Trail) -> Any:
    if not isinstance(schema, dict):
        return _string({}, ctx, name, index)
    if "$ref" in schema:
        target = _resolve(schema["$ref"], ctx)
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        return _value({**target, **rest}, ctx, name, index, trail.deeper(schema["$ref"]))
    if "allOf" in schema:
        return _value(_merge_all_of(schema, ctx), ctx, name, index, trail.deeper())
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        options = [o for o in schema["enum"] if o is not None] or list(schema["enum"])
        return options[index % len(options)] if index else ctx.rng.choice(options)
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            nulls = [b for b in schema[key] if _is_null(b)]
            branches = [b for b in schema[key] if not _is_null(b)]
            if trail.minimal and nulls:
                return None
            rest = {k: v for k, v in schema.items() if k != key}
            branch = (branches or schema[key])[0]
            return _value({**rest, **branch}, ctx, name, index, trail.deeper())
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"] or kind
        kind = kinds[0]
    if kind is None:
        if "properties" in schema or "required" in schema:
            kind = "object"
        elif "items" in schema or "prefixItems" in schema:
            kind = "array"
        else:
            kind = "string"
    if kind == "object":
        return _object(schema, ctx, index, trail)
    if kind == "array":
        return _array(schema, ctx, name, trail)
    if kind == "integer":
        return _integer(schema, ctx, name)
    if kind == "number":
        return _number(schema, ctx, name)
    if kind == "boolean":
        return not any(flag in name.lower() for flag in _NEGATIVE_FLAGS)
    if kind == "null":
        return None
    return _string(schema, ctx, name, index)


def _object(schema: JsonSchema, ctx: _Context, index: int, trail: _Trail) -> dict[str, Any]:
    properties: dict[str, Any] = schema.get("properties") or {}
    required: list[str] = schema.get("required") or []
    result: dict[str, Any] = {}
    for prop, sub in properties.items():
        if trail.minimal and prop not in required:
            continue
        result[prop] = _value(sub, ctx, prop, index, trail.deeper())
    for prop in required:
        if prop not in result:
            result[prop] = _value({}, ctx, prop, index, trail.deeper())
    extra = schema.get("additionalProperties")
    if not properties and isinstance(extra, dict):
        wanted = int(schema.get("minProperties", 0))
        wanted = wanted if trail.minimal else max(2, wanted)
        for i in range(wanted):
            key = ctx.topic.word(i) if i < len(ctx.topic.words) else f"key_{i}"
            result[key] = _value(extra, ctx, key, i, trail.deeper())
    return result


def _array(schema: JsonSchema, ctx: _Context, name: str, trail: _Trail) -> list[Any]:
    low = int(schema.get("minItems", 0))
    high = schema.get("maxItems")
    count = low if trail.minimal else max(3, low)
    if high is not None:
        count = min(count, int(high))
    prefix: list[Any] = schema.get("prefixItems") or []
    items = schema.get("items", {})
    if items is False:
        count = min(count, len(prefix))
    item_name = _singular(name)
    values: list[Any] = []
    attempts = 0
    while len(values) < count and attempts < count * 4 + 4:
        position = len(values)
        sub = prefix[position] if position < len(prefix) else items
        sub = sub if isinstance(sub, dict) else {}
        value = _value(sub, ctx, item_name, attempts + 1, trail.deeper())
        attempts += 1
        if schema.get("uniqueItems") and value in values:
            continue
        values.append(value)
    return values


def _singular(name: str) -> str:
    if name.endswith("ies"):
        return name[:-3] + "y"
    if name.endswith("s") and not name.endswith("ss"):
        return name[:-1]
    return name


def _num(schema: JsonSchema, key: str) -> float | None:
    value = schema.get(key)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _bounds(schema: JsonSchema, default_low: float, span: float) -> tuple[float, float]:
    lows = [v for v in (_num(schema, "minimum"), _num(schema, "exclusiveMinimum")) if v is not None]
    highs = [
        v for v in (_num(schema, "maximum"), _num(schema, "exclusiveMaximum")) if v is not None
    ]
    lo = max(lows) if lows else None
    hi = min(highs) if highs else None
    if lo is None and hi is None:
        return default_low, default_low + span
    if lo is None:
        assert hi is not None
        return min(default_low, hi - span), hi
    if hi is None:
        return lo, lo + span
    return lo, hi


def _integer(schema: JsonSchema, ctx: _Context, name: str) -> int:
    lo, hi = _bounds(schema, 1, 9)
    low, high = math.ceil(lo), math.floor(hi)
    ex_low, ex_high = _num(schema, "exclusiveMinimum"), _num(schema, "exclusiveMaximum")
    if ex_low is not None and low <= ex_low:
        low = math.floor(ex_low) + 1
    if ex_high is not None and high >= ex_high:
        high = math.ceil(ex_high) - 1
    high = max(high, low)
    lowered = name.lower()
    if any(w in lowered for w in ("score", "rating", "quality", "confidence")):
        value = high - (high - low) // 5  # near the top: an agent's quality gate should pass
    else:
        value = ctx.rng.randint(low, high)
    step = schema.get("multipleOf")
    if isinstance(step, int) and step > 0:
        value = _snap_int(value, step, low, high)
    return value


def _snap_int(value: int, step: int, low: int, high: int) -> int:
    snapped = (value // step) * step
    if snapped < low:
        snapped += step * math.ceil((low - snapped) / step)
    return snapped if snapped <= high else low


def _number(schema: JsonSchema, ctx: _Context, name: str) -> float:
    lo, hi = _bounds(schema, 0.0, 1.0)
    if any(w in name.lower() for w in ("score", "rating", "quality", "confidence")):
        value = round(lo + (hi - lo) * 0.85, 2)
    else:
        margin = (hi - lo) * 0.1
        value = round(ctx.rng.uniform(lo + margin, hi - margin), 2)
    excluded = (_num(schema, "exclusiveMinimum"), _num(schema, "exclusiveMaximum"))
    if not lo <= value <= hi or value in excluded:
        value = (lo + hi) / 2
    step = _num(schema, "multipleOf")
    if step is not None and step > 0:
        value = round(value / step) * step
        if not lo <= value <= hi or value in excluded:
            value = math.ceil(lo / step) * step
    return value


_FORMATS = {
    "date-time": "2024-{m:02d}-{d:02d}T{h:02d}:00:00Z",
    "date": "2024-{m:02d}-{d:02d}",
    "time": "{h:02d}:00:00Z",
    "duration": "PT{h}H",
    "ipv4": "192.0.2.{d}",
    "ipv6": "2001:db8::{d}",
    "hostname": "{slug}.example.com",
    "uuid": "00000000-0000-4000-8000-{hex12}",
}


def _string(schema: JsonSchema, ctx: _Context, name: str, index: int) -> str:
    topic, rng = ctx.topic, ctx.rng
    fmt = schema.get("format")
    lowered = name.lower()
    if fmt in _FORMATS:
        text = _FORMATS[fmt].format(
            m=rng.randint(1, 12),
            d=rng.randint(1, 28),
            h=rng.randint(0, 23),
            slug=topic.slug,
            hex12=f"{rng.getrandbits(48):012x}",
        )
        return text
    if fmt == "email" or "email" in lowered:
        text = f"{slugify(topic.word(index))}@example.com"
    elif (
        fmt in ("uri", "url", "iri", "uri-reference")
        or lowered in ("url", "link", "href", "source", "source_url")
        or lowered.endswith("_url")
    ):
        text = f"{ctx.base_url}/pages/{page_id(topic.phrase, rng.getrandbits(32))}"
    elif "slug" in lowered:
        text = topic.slug if index == 0 else f"{topic.slug}-{slugify(_aspect(topic, index))}"
    elif lowered in ("query", "q", "search", "search_query") or "quer" in lowered:
        text = short_phrase(topic, rng, index)
    elif any(w in lowered for w in ("title", "heading", "headline", "name", "label", "h1", "h2")):
        text = _heading(topic, index)
    elif lowered in ("language", "lang", "locale"):
        text = "en"
    elif lowered in ("keyword", "tag", "term", "topic", "entity", "category", "word"):
        text = topic.phrase if index == 0 else f"{topic.phrase} {_aspect(topic, index)}"
    elif lowered.endswith("id") and len(lowered) <= 12:
        text = f"{slugify(topic.word(index))}-{rng.randint(100, 999)}"
    elif any(w in lowered for w in _PROSE_NAMES):
        text = prose(topic, rng, rng.randint(40, 70))
    else:
        text = prose(topic, rng, 12).split(". ")[0].rstrip(".") + "."
    return _fit(text, schema, ctx, index)


def _aspect(topic: Topic, index: int) -> str:
    return topic.aspects[(index - 1) % len(topic.aspects)]


def _heading(topic: Topic, index: int) -> str:
    if index == 0:
        return f"{topic.title}: A Practical Guide"
    angles = (
        "Why {w} Matters for {T}",
        "Getting {w} Right",
        "{T} and {w}: What to Expect",
        "{w} in Practice",
        "Planning for {w}",
    )
    template = angles[(index - 1) % len(angles)]
    return template.format(w=title_case(_aspect(topic, index)), T=topic.title)


def _fit(text: str, schema: JsonSchema, ctx: _Context, index: int) -> str:
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        text = _matching(text, pattern, ctx, index)
    low = int(schema.get("minLength", 0))
    high = schema.get("maxLength")
    while len(text) < low:
        text = f"{text} {ctx.topic.word(len(text))}".strip()
    if high is not None and len(text) > int(high):
        text = text[: int(high)].rstrip() or text[: int(high)]
    return text


def _matching(text: str, pattern: str, ctx: _Context, index: int) -> str:
    """Fit ``pattern``: try a few shapes of the topic, then an example built from the regex."""
    try:
        regex = re.compile(pattern)
    except re.error:
        return text
    topic = ctx.topic
    candidates = (
        text,
        topic.slug,
        slugify(topic.word(index)),
        topic.word(index),
        topic.phrase,
        title_case(topic.word(index)),
        topic.slug.replace("-", "_"),
        str(ctx.rng.randint(1, 99)),
        topic.slug.upper(),
    )
    for candidate in candidates:
        if regex.search(candidate):
            return candidate
    return example(pattern) or text
