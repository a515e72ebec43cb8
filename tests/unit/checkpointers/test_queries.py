"""The named-queries loader and the shipped SQL files (no server needed)."""

from __future__ import annotations

import re

import pytest

from checkpointers._migrate import migrations
from checkpointers._queries import QUERIES, parse_queries


def test_sections_become_named_queries() -> None:
    queries = parse_queries(
        "-- a file comment\n\n-- name: first\nSELECT 1;\n\n-- name: second\n"
        "-- what it does\nSELECT %(x)s\nFROM t\n"
    )
    assert list(queries) == ["first", "second"]
    assert queries.first == "SELECT 1"
    assert queries["second"] == "-- what it does\nSELECT %(x)s\nFROM t"
    assert len(queries) == 2


def test_queries_are_read_only_and_unknown_names_fail_loudly() -> None:
    queries = parse_queries("-- name: one\nSELECT 1")
    with pytest.raises(AttributeError, match="no query named 'two'"):
        _ = queries.two
    with pytest.raises(KeyError):
        _ = queries["two"]
    with pytest.raises(AttributeError):
        queries.one = "DROP TABLE x"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("SELECT 1\n-- name: q\nSELECT 2", "before the first"),
        ("-- name: q\nSELECT 1\n-- name: q\nSELECT 2", "duplicate"),
        ("-- name: Bad-Name\nSELECT 1", "lowercase identifier"),
        ("-- name: q\n\n-- name: r\nSELECT 1", "empty"),
    ],
)
def test_malformed_query_files_are_rejected(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_queries(text)


def test_shipped_queries_cover_every_store_operation() -> None:
    expected = {
        "insert_event",
        "list_events",
        "get_run",
        "create_run",
        "claim_run",
        "set_run_status",
        "heartbeat_runs",
        "increment_recoveries",
        "list_runs",
        "upsert_article",
        "get_article",
        "count_articles",
        "try_advisory_lock",
        "advisory_unlock",
        "create_database",
        "drop_database",
    }
    assert expected <= set(QUERIES)


def test_shipped_queries_use_named_placeholders_only() -> None:
    for name, text in QUERIES.items():
        # psycopg named placeholders (%(x)s, or %(x)b for binary), no positional %s or %b
        # mixed in, no stray % signs.
        assert not re.search(r"%[sbt]|%(?!\(\w+\)[sbt])", text), name


def test_migrations_are_numbered_in_order_from_one() -> None:
    found = migrations()
    assert [m.version for m in found] == list(range(1, len(found) + 1))
    assert found[0].name == "core"
    assert "CREATE TABLE agent_graph_runs" in found[0].sql
