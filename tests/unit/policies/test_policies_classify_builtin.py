"""Classification of built-in, OS, psycopg and user-signal exceptions."""

from __future__ import annotations

import asyncio
import errno
import socket
from pathlib import Path

import psycopg
import psycopg.errors
import pydantic
import pytest

from policies import ConfigurationError, Escalate, Fatal, Retryable, classify


async def test_asyncio_timeout_is_retryable() -> None:
    with pytest.raises(asyncio.TimeoutError) as info:
        await asyncio.wait_for(asyncio.sleep(1), timeout=0.001)
    got = classify(info.value)
    assert (got.kind, got.reason) == ("retryable", "timeout")


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (TimeoutError("slow"), "timeout"),
        (ConnectionError("gone"), "connection"),
        (ConnectionResetError(errno.ECONNRESET, "reset by peer"), "connection"),
        (BrokenPipeError(errno.EPIPE, "broken pipe"), "connection"),
        (ConnectionAbortedError(errno.ECONNABORTED, "aborted"), "connection"),
        (socket.gaierror(socket.EAI_AGAIN, "temporary failure in name resolution"), "connection"),
        (OSError(errno.ENETUNREACH, "network is unreachable"), "connection"),
    ],
)
def test_network_errors_are_retryable(exc: BaseException, reason: str) -> None:
    got = classify(exc)
    assert (got.kind, got.reason) == ("retryable", reason)


def test_real_connection_refused_is_retryable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ConnectionRefusedError) as info, socket.socket() as client:
        client.connect(("127.0.0.1", port))
    got = classify(info.value)
    assert (got.kind, got.reason, got.error_type) == (
        "retryable",
        "connection",
        "ConnectionRefusedError",
    )


def test_disk_full_escalates() -> None:
    got = classify(OSError(errno.ENOSPC, "No space left on device"))
    assert (got.kind, got.reason, got.code) == ("escalate", "disk_full", "ENOSPC")


def test_missing_file_is_fatal(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as info:
        (tmp_path / "missing.txt").read_text()
    got = classify(info.value)
    assert (got.kind, got.reason, got.code) == ("fatal", "os_error", "ENOENT")


@pytest.mark.parametrize(
    "exc",
    [
        PermissionError(errno.EACCES, "Permission denied"),
        IsADirectoryError(errno.EISDIR, "Is a directory"),
        OSError("something odd"),
    ],
)
def test_other_os_errors_are_fatal(exc: OSError) -> None:
    got = classify(exc)
    assert (got.kind, got.reason) == ("fatal", "os_error")


@pytest.mark.parametrize(
    "exc",
    [
        TypeError("unsupported operand"),
        KeyError("missing"),
        AttributeError("no attribute"),
        NameError("undefined"),
        AssertionError("invariant"),
        NotImplementedError("later"),
        ValueError("bad value"),
        IndexError("out of range"),
    ],
)
def test_programming_errors_are_fatal_bugs(exc: BaseException) -> None:
    got = classify(exc)
    assert (got.kind, got.reason) == ("fatal", "bug")


def test_pydantic_validation_error_is_a_bug() -> None:
    class Model(pydantic.BaseModel):
        n: int

    with pytest.raises(pydantic.ValidationError) as info:
        Model.model_validate({"n": "not a number"})
    got = classify(info.value)
    assert (got.kind, got.reason) == ("fatal", "bug")


def test_configuration_error_is_fatal() -> None:
    assert classify(ConfigurationError("DATABASE_URL is malformed")).kind == "fatal"


def test_anything_else_is_retryable_unknown() -> None:
    class Weird(Exception):
        pass

    for exc in (RuntimeError("hm"), Weird("odd"), Exception("plain")):
        got = classify(exc)
        assert (got.kind, got.reason) == ("retryable", "unknown")


def test_user_signals() -> None:
    retry = classify(Retryable("busy", retry_after=5))
    assert (retry.kind, retry.reason, retry.retry_after) == ("retryable", "user_retryable", 5.0)
    fatal = classify(Fatal("input rejected"))
    assert (fatal.kind, fatal.reason, fatal.message) == ("fatal", "user_fatal", "input rejected")
    escalate = classify(Escalate("needs approval"))
    assert (escalate.kind, escalate.reason) == ("escalate", "user_escalate")
    assert escalate.error_type == "policies._signals.Escalate"


def test_user_signals_carry_a_hint() -> None:
    exc = Fatal("input rejected", hint="fix the CSV and redrive")
    assert exc.hint == "fix the CSV and redrive"
    assert "fix the CSV" in str(exc)
    assert Escalate("x").hint  # a default hint tells the user what to do
    assert Retryable("x").retry_after is None


def test_retryable_rejects_bad_retry_after() -> None:
    with pytest.raises(ConfigurationError, match="retry_after"):
        Retryable("busy", retry_after=-1)


@pytest.mark.parametrize(
    "exc",
    [
        psycopg.errors.SerializationFailure("could not serialize access"),
        psycopg.errors.DeadlockDetected("deadlock detected"),
        psycopg.errors.lookup("08006")("connection failure"),
        psycopg.errors.lookup("08001")("cannot establish connection"),
        psycopg.errors.lookup("53300")("too many connections"),
        psycopg.errors.lookup("57P01")("terminating connection due to administrator command"),
        psycopg.errors.lookup("57014")("canceling statement due to statement timeout"),
    ],
)
def test_transient_sqlstates_are_retryable(exc: psycopg.Error) -> None:
    got = classify(exc)
    assert (got.kind, got.reason, got.code) == ("retryable", "database", exc.sqlstate)


def test_operational_error_without_sqlstate_is_retryable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(psycopg.OperationalError) as info:
        psycopg.connect(
            f"host=127.0.0.1 port={port} dbname=x user=u password=hunter2 connect_timeout=2"
        )
    assert info.value.sqlstate is None
    got = classify(info.value)
    assert (got.kind, got.reason, got.code) == ("retryable", "database", None)
    assert "hunter2" not in got.message


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (psycopg.errors.UniqueViolation("duplicate key"), "integrity"),
        (psycopg.errors.ForeignKeyViolation("fk"), "integrity"),
        (psycopg.IntegrityError("integrity"), "integrity"),
        (psycopg.errors.lookup("22P02")("invalid input syntax"), "database"),
        (psycopg.DataError("data"), "database"),
        (psycopg.errors.UndefinedTable("relation does not exist"), "database"),
        (psycopg.ProgrammingError("syntax"), "database"),
    ],
)
def test_data_and_sql_errors_are_fatal(exc: psycopg.Error, reason: str) -> None:
    got = classify(exc)
    assert (got.kind, got.reason) == ("fatal", reason)
