"""redact(): secrets never survive, everything else does."""

from __future__ import annotations

import pytest

from policies import redact

KEY = "sk-proj-" + "Ab3dEf6hIj9kLm2nOp5qRs8t"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"key {KEY} rejected", "key sk-*** rejected"),
        ("old key sk-" + "a1B2c3D4e5F6g7H8i9J0kLmN" + " expired", "old key sk-*** expired"),
        ("Authorization: Bearer abc.def-ghi_jkl", "Authorization: ***"),
        ("sent Bearer eyabcdefghijklmnop to server", "sent Bearer *** to server"),
        ('{"Authorization": "Basic dXNlcjpwYXNz"}', '{"Authorization": "***"}'),
        ("api_key=abc123 model=gpt", "api_key=*** model=gpt"),
        ("OPENAI_API_KEY=topsecretvalue", "OPENAI_API_KEY=***"),
        ("{'password': 'hunter2', 'user': 'bob'}", "{'password': '***', 'user': 'bob'}"),
        ('{"client_secret": "xyz", "n": 1}', '{"client_secret": "***", "n": 1}'),
        ("https://h/cb?access_token=abc&state=1", "https://h/cb?access_token=***&state=1"),
        ("postgresql://user:SECRET@host:5432/db", "postgresql://user:***@host:5432/db"),
        ("postgres://app:p@ss/w0rd@db.internal/prod", "postgres://app:***@db.internal/prod"),
        ("redis://:hunter2@cache:6379/0", "redis://:***@cache:6379/0"),
        (
            "host=db port=5432 user=app password=s3cret dbname=prod",
            "host=db port=5432 user=app password=*** dbname=prod",
        ),
        ("host=db password='with space' dbname=x", "host=db password='***' dbname=x"),
        ("github token ghp_" + "A" * 36, "github token ***"),
    ],
)
def test_secrets_are_removed(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "postgresql://user@host/db",
        "connection to server at 127.0.0.1 port 5432 failed",
        'password authentication failed for user "app"',
        "max_tokens=4096 completion_tokens: 12",
        "This model's maximum context length is 8192 tokens",
        "scikit-learn sk-learn task-1234567890123456789",
        "https://example.com/a?b=c",
    ],
)
def test_harmless_text_is_unchanged(text: str) -> None:
    assert redact(text) == text


def test_redact_is_idempotent() -> None:
    text = f"postgresql://u:pw@h/db api_key={KEY} Bearer abcdefghijkl password='x y'"
    once = redact(text)
    assert redact(once) == once
    for secret in ("pw@", KEY, "abcdefghijkl", "x y"):
        assert secret not in once
