"""Connection strings: validation, redaction and database switching (no server needed)."""

from __future__ import annotations

import pytest

from checkpointers import redact_dsn, resolve_dsn, with_database
from checkpointers._dsn import scrub
from policies._errors import ConfigurationError, DurableAgentError


@pytest.mark.parametrize(
    ("dsn", "expected"),
    [
        ("postgresql://app:s3cret@db:5432/prod", "postgresql://app:***@db:5432/prod"),
        (
            "postgres://app:s3cret@db/prod?sslmode=require",
            "postgres://app:***@db/prod?sslmode=require",
        ),
        ("postgresql://app@db/prod", "postgresql://app@db/prod"),
        (
            "postgresql://db/prod?password=s3cret&sslmode=require",
            "postgresql://db/prod?password=***&sslmode=require",
        ),
        ("postgresql://app:p%40ss@db/prod", "postgresql://app:***@db/prod"),
        ("host=db password=s3cret dbname=prod", "host=db password=*** dbname=prod"),
        ("host=db password='s3 cr\\'et' dbname=prod", "host=db password=*** dbname=prod"),
        ("host=db sslpassword=s3cret", "host=db sslpassword=***"),
        (
            "postgresql://postgres:@/agent_graph?host=/tmp/pg",
            "postgresql://postgres:@/agent_graph?host=/tmp/pg",
        ),
        ("", ""),
    ],
)
def test_redact_dsn_hides_passwords_and_keeps_the_rest(dsn: str, expected: str) -> None:
    assert redact_dsn(dsn) == expected


def test_redact_dsn_never_raises_on_garbage() -> None:
    redacted = redact_dsn("postgresql://u:s3cret@[::1/db password=x'")
    assert "s3cret" not in redacted


def test_scrub_removes_dsn_and_password_from_a_message() -> None:
    dsn = "postgresql://app:s3cret@db/prod"
    message = f'connection to "{dsn}" failed; password s3cret rejected'
    cleaned = scrub(message, dsn)
    assert "s3cret" not in cleaned
    assert "postgresql://app:***@db/prod" in cleaned


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://app:pw@db:5432/prod",
        "postgres://db/prod",
        "  postgresql://db/prod  ",
        "host=db port=5432 dbname=prod user=app",
        "postgresql://postgres:@/agent_graph?host=/tmp/pg",
    ],
)
def test_resolve_dsn_accepts_postgres_urls_and_key_value_strings(url: str) -> None:
    assert resolve_dsn(url) == url.strip()


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("mysql://app:s3cret@db/prod", "not a PostgreSQL URL"),
        ("postgresql+psycopg://app:s3cret@db/prod", "not a PostgreSQL URL"),
        ("localhost", "neither a postgresql:// URL nor a key=value"),
        ("postgresql://app:s3cret@[::1/prod", "malformed"),
        ("host=db dbname=prod colour=blue password=s3cret", "malformed"),
        ("postgresql://app:s3cret@db:fivefourthreetwo/prod", "non-numeric port"),
    ],
)
def test_resolve_dsn_rejects_malformed_urls_without_leaking_the_password(
    url: str, fragment: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        resolve_dsn(url)
    error = caught.value
    assert isinstance(error, DurableAgentError)
    assert fragment in error.message
    assert "s3cret" not in str(error)
    assert error.hint


def test_driver_suffix_gets_a_specific_hint() -> None:
    with pytest.raises(ConfigurationError) as caught:
        resolve_dsn("postgresql+psycopg://db/prod")
    assert "postgresql://" in caught.value.hint


def test_with_database_switches_database_and_keeps_the_form() -> None:
    socket_url = "postgresql://postgres:@/postgres?host=/tmp/pg"
    assert with_database(socket_url, "agtest_1") == "postgresql://postgres:@/agtest_1?host=/tmp/pg"
    assert with_database("postgresql://u:p@db:5/x?dbname=y&sslmode=disable", "z") == (
        "postgresql://u:p@db:5/z?sslmode=disable"
    )
    assert "dbname=other" in with_database("host=db dbname=prod", "other")
