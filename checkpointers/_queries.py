"""Named SQL queries, loaded once from the ``sql/queries*.sql`` files.

The file is split into sections that start with a ``-- name: <identifier>`` line; each section's
text (up to the next marker) is one query. Parameters use psycopg placeholders (``%(name)s``);
identifiers (database names) use ``{name}`` fields for :class:`psycopg.sql.SQL` ``.format``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from importlib import resources
from types import MappingProxyType
from typing import LiteralString

__all__ = ["QUERIES", "Queries", "parse_queries", "read_sql"]

_MARKER = re.compile(r"^--\s*name:\s*(?P<name>\S+)\s*$")
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


class Queries(Mapping[str, LiteralString]):
    """A read-only mapping of query name to SQL text, also readable as attributes.

    ``QUERIES.insert_event`` and ``QUERIES["insert_event"]`` are the same string; an unknown
    name raises ``AttributeError`` / ``KeyError``.
    """

    __slots__ = ("_items",)
    _items: Mapping[str, LiteralString]

    def __init__(self, items: Mapping[str, LiteralString]) -> None:
        object.__setattr__(self, "_items", MappingProxyType(dict(items)))

    def __getitem__(self, name: str) -> LiteralString:
        return self._items[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __getattr__(self, name: str) -> LiteralString:
        try:
            return self._items[name]
        except KeyError:
            raise AttributeError(f"no query named {name!r} in queries.sql") from None

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Queries is read-only")

    def __repr__(self) -> str:
        return f"Queries({sorted(self._items)})"


def parse_queries(text: str) -> Queries:
    """Split the text of a named-queries file into a :class:`Queries` mapping.

    Args:
        text: file content made of ``-- name: <identifier>`` sections.

    Raises:
        ValueError: SQL before the first marker, a bad or duplicate name, or an empty section.
    """
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for lineno, line in enumerate(text.splitlines(), start=1):
        match = _MARKER.match(line.strip())
        if match:
            name = match["name"]
            if not _IDENTIFIER.match(name):
                raise ValueError(
                    f"line {lineno}: query name {name!r} is not a lowercase identifier"
                )
            if name in sections:
                raise ValueError(f"line {lineno}: duplicate query name {name!r}")
            current = sections[name] = []
        elif current is not None:
            current.append(line)
        elif line.strip() and not line.strip().startswith("--"):
            raise ValueError(f"line {lineno}: SQL before the first '-- name:' marker")
    items: dict[str, LiteralString] = {}
    for name, lines in sections.items():
        body = "\n".join(lines).strip().removesuffix(";").rstrip()
        if not body:
            raise ValueError(f"query {name!r} is empty")
        # Trusted text: it comes from files shipped inside this package, never from user input
        # (mypy treats LiteralString as str, so no cast is needed).
        items[name] = body
    return Queries(items)


def read_sql(filename: str) -> LiteralString:
    """Return the text of ``checkpointers/sql/<filename>`` (a file shipped with the package)."""
    text: LiteralString = (
        resources.files("checkpointers").joinpath("sql", filename).read_text(encoding="utf-8")
    )
    return text


def _query_files() -> list[str]:
    folder = resources.files("checkpointers").joinpath("sql")
    return sorted(
        entry.name
        for entry in folder.iterdir()
        if entry.name.startswith("queries") and entry.name.endswith(".sql")
    )


def _load_queries() -> Queries:
    # each file on its own: the comments heading a file must not end up in the last query of
    # the file before it
    items: dict[str, LiteralString] = {}
    for filename in _query_files():
        for name, query in parse_queries(read_sql(filename)).items():
            if name in items:
                raise ValueError(f"{filename}: query {name!r} is defined in another file too")
            items[name] = query
    return Queries(items)


# Every ``sql/queries*.sql`` file, one namespace (a name defined twice is an error).
QUERIES: Queries = _load_queries()
