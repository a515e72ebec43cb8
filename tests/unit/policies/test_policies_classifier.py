"""The Classifier value: custom rules, their precedence, wrapped and grouped errors."""

from __future__ import annotations

import json

import httpx
import pytest

from policies import (
    DEFAULT_RULES,
    Classification,
    Classifier,
    ConfigurationError,
    Fatal,
    classify,
    rule,
)


class QuotaHit(Exception):
    """An exception type of the user's own."""


def _read_timeout() -> httpx.ReadTimeout:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("read timed out", request=request)

    with (
        httpx.Client(transport=httpx.MockTransport(handler)) as client,
        pytest.raises(httpx.ReadTimeout) as info,
    ):
        client.get("http://service.test/")
    return info.value


def test_default_classifier_is_the_module_function() -> None:
    assert Classifier.default() == Classifier()
    assert Classifier.default().rules == DEFAULT_RULES
    exc = TimeoutError("slow")
    assert Classifier.default().classify(exc) == classify(exc)


def test_user_rule_classifies_own_exception_type() -> None:
    classifier = Classifier.default().with_rules(rule(QuotaHit, "escalate", "quota_exhausted"))
    got = classifier.classify(QuotaHit("monthly quota"))
    assert (got.kind, got.reason, got.message) == ("escalate", "quota_exhausted", "monthly quota")
    assert got.error_type.endswith("QuotaHit")
    assert classify(QuotaHit("x")).reason == "unknown"  # the default is unchanged


def test_user_rules_take_precedence_over_built_in_rules() -> None:
    classifier = Classifier.default().with_rules(
        rule(ValueError, "retryable", "flaky_parser", retry_after=2)
    )
    got = classifier.classify(ValueError("unparseable LLM output"))
    assert (got.kind, got.reason, got.retry_after) == ("retryable", "flaky_parser", 2.0)
    assert classify(ValueError("x")).kind == "fatal"


def test_later_with_rules_come_first_and_order_is_kept() -> None:
    first = rule(KeyError, "fatal", "first")
    second = rule(KeyError, "fatal", "second")
    assert Classifier.default().with_rules(first, second).classify(KeyError()).reason == "first"
    stacked = Classifier.default().with_rules(first).with_rules(second)
    assert stacked.classify(KeyError()).reason == "second"


def test_rule_with_tuple_and_predicate() -> None:
    timeouts = rule(
        (QuotaHit, LookupError),
        "retryable",
        "timeout",
        when=lambda exc: "soft" in str(exc),
    )
    classifier = Classifier.default().with_rules(timeouts)
    assert classifier.classify(QuotaHit("soft limit")).reason == "timeout"
    assert classifier.classify(IndexError("soft")).reason == "timeout"
    assert classifier.classify(IndexError("hard")).reason == "bug"


def test_plain_callable_rule() -> None:
    def by_message(exc: BaseException) -> Classification | None:
        if "maintenance" in str(exc):
            return Classification.from_exception(exc, "retryable", "server_error", retry_after=30)
        return None

    classifier = Classifier.default().with_rules(by_message)
    assert classifier.classify(RuntimeError("in maintenance")).retry_after == 30.0
    assert classifier.classify(RuntimeError("other")).reason == "unknown"


@pytest.mark.parametrize(
    "call",
    [
        lambda: rule(int, "fatal", "x"),  # type: ignore[arg-type]
        lambda: rule((), "fatal", "x"),
        lambda: rule(ValueError, "ignore", "x"),  # type: ignore[arg-type]
        lambda: rule(ValueError, "fatal", ""),
        lambda: rule(ValueError, "retryable", "x", retry_after=-1),
        lambda: Classifier.default().with_rules("not callable"),  # type: ignore[arg-type]
    ],
)
def test_rule_validation(call: object) -> None:
    assert callable(call)
    with pytest.raises(ConfigurationError):
        call()


def test_generic_wrapper_is_classified_by_its_cause() -> None:
    timeout = _read_timeout()
    try:
        raise RuntimeError("tool 'search' failed") from timeout
    except RuntimeError as wrapper:
        got = classify(wrapper)
    assert (got.kind, got.reason) == ("retryable", "timeout")
    assert got.error_type == "httpx.ReadTimeout"
    assert got.message == "tool 'search' failed: read timed out"


def test_cause_chain_is_followed_to_a_user_signal() -> None:
    try:
        try:
            raise Fatal("customer record is invalid")
        except Fatal as fatal:
            raise RuntimeError("step failed") from fatal
    except RuntimeError as middle:
        outer = Exception("graph failed")
        outer.__cause__ = middle
    got = classify(outer)
    assert (got.kind, got.reason) == ("fatal", "user_fatal")


def test_recognised_wrapper_is_not_unwrapped() -> None:
    outer = ValueError("bad config")
    outer.__cause__ = TimeoutError("slow")
    assert classify(outer).reason == "bug"


def test_unknown_cause_keeps_outer_unknown() -> None:
    outer = RuntimeError("outer")
    outer.__cause__ = RuntimeError("inner")
    got = classify(outer)
    assert (got.reason, got.message, got.error_type) == ("unknown", "outer", "RuntimeError")


def test_cause_cycle_terminates() -> None:
    first, second = RuntimeError("a"), RuntimeError("b")
    first.__cause__ = second
    second.__cause__ = first
    assert classify(first).reason == "unknown"


def test_implicit_context_is_not_followed() -> None:
    def cleanup() -> None:
        try:
            raise TimeoutError("slow")
        except TimeoutError:
            raise RuntimeError("cleanup failed")  # noqa: B904 - the implicit context is the point

    with pytest.raises(RuntimeError) as info:
        cleanup()
    assert isinstance(info.value.__context__, TimeoutError)
    assert classify(info.value).reason == "unknown"


def test_exception_group_takes_most_severe_member() -> None:
    group = ExceptionGroup("parallel sections", [TimeoutError("slow"), KeyError("title")])
    got = classify(group)
    assert (got.kind, got.reason) == ("fatal", "bug")


def test_exception_group_of_retryables_keeps_longest_retry_after() -> None:
    from policies import Retryable

    group = ExceptionGroup(
        "fan-out",
        [RuntimeError("odd"), Retryable("busy", retry_after=3), Retryable("busy", retry_after=9)],
    )
    got = classify(group)
    assert (got.kind, got.reason, got.retry_after) == ("retryable", "user_retryable", 9.0)


def test_classification_is_json_friendly_and_round_trips() -> None:
    got = classify(_read_timeout())
    data = got.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert set(data) == {
        "kind",
        "reason",
        "retry_after",
        "status",
        "code",
        "error_type",
        "message",
    }
    assert Classification.from_dict(data) == got


def test_classification_message_is_always_redacted_and_bounded() -> None:
    made = Classification(
        kind="fatal",
        reason="user_fatal",
        message="connect postgresql://app:s3cret@db/prod failed " + "x" * 1000,
    )
    assert "s3cret" not in made.message
    assert "postgresql://app:***@db/prod" in made.message
    assert len(made.message) <= 500
    secret = "sk-" + "a" * 40
    assert secret not in classify(RuntimeError(f"api_key={secret}")).message


def test_classification_validation() -> None:
    with pytest.raises(ConfigurationError):
        Classification(kind="maybe", reason="x")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        Classification(kind="retryable", reason="x", retry_after=float("inf"))
    with pytest.raises(ConfigurationError):
        Classification.from_dict({"reason": "x"})


def test_broken_str_does_not_break_classification() -> None:
    class Broken(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no")

    assert classify(Broken()).reason == "unknown"
