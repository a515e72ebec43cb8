"""Build an example string that matches a regular expression (the constructs schemas use)."""

from __future__ import annotations

import re
from re import _parser as _sre  # type: ignore[attr-defined]
from typing import Any

_PREFERRED_REPEAT = 3
_CATEGORY_CHARS = {
    "CATEGORY_DIGIT": "7",
    "CATEGORY_NOT_DIGIT": "a",
    "CATEGORY_WORD": "a",
    "CATEGORY_NOT_WORD": "-",
    "CATEGORY_SPACE": " ",
    "CATEGORY_NOT_SPACE": "a",
}


class _Unsupported(Exception):
    pass


def example(pattern: str) -> str | None:
    """Return a string that ``re.search(pattern, ...)`` accepts, or None if none was found."""
    try:
        parsed = _sre.parse(pattern)
        text = _emit(parsed)
    except (re.error, _Unsupported, RecursionError, ValueError):
        return None
    return text if re.search(pattern, text) else None


def _emit(items: Any) -> str:
    return "".join(_token(str(op), av, position) for position, (op, av) in enumerate(items))


def _token(op: str, av: Any, position: int) -> str:
    if op == "LITERAL":
        return chr(av)
    if op == "NOT_LITERAL":
        return "a" if av != ord("a") else "b"
    if op == "ANY":
        return "x"
    if op == "IN":
        return _from_set(av, position)
    if op == "CATEGORY":
        return _CATEGORY_CHARS.get(str(av), "a")
    if op in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
        low, high, sub = av
        count = max(low, min(high, _PREFERRED_REPEAT))
        return "".join(_emit(sub) for _ in range(count))
    if op == "SUBPATTERN":
        return _emit(av[-1])
    if op == "ATOMIC_GROUP":
        return _emit(av)
    if op == "BRANCH":
        return _emit(av[1][0])
    if op in ("AT", "ASSERT", "ASSERT_NOT"):
        return ""
    raise _Unsupported(op)


def _from_set(items: Any, position: int) -> str:
    allowed: list[str] = []
    negated = False
    for op, av in items:
        name = str(op)
        if name == "NEGATE":
            negated = True
        elif name == "LITERAL":
            allowed.append(chr(av))
        elif name == "RANGE":
            low, high = av
            allowed.append(chr(low + position % (high - low + 1)))
        elif name == "CATEGORY":
            allowed.append(_CATEGORY_CHARS.get(str(av), "a"))
        else:
            raise _Unsupported(name)
    if not negated:
        if not allowed:
            raise _Unsupported("empty set")
        return allowed[0]
    for candidate in "aZ0 -_x.":
        if candidate not in allowed:
            return candidate
    raise _Unsupported("negated set")
