"""Rules for our own signal exceptions and for Python's built-in exceptions."""

from __future__ import annotations

import errno
import socket

from ._classification import Classification
from ._errors import ConfigurationError
from ._signals import Escalate, Fatal, Retryable

_DISK_FULL = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})
# Plain OSErrors (not ConnectionError subclasses) that still mean "the network is flaky".
_NETWORK_ERRNOS = frozenset(
    getattr(errno, name)
    for name in ("ENETUNREACH", "EHOSTUNREACH", "ENETDOWN", "EHOSTDOWN", "ENETRESET")
    if hasattr(errno, name)
)

# Programming errors: retrying runs the same code on the same data and fails the same way.
_BUG_TYPES: tuple[type[BaseException], ...] = (
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    NameError,
    AssertionError,
    NotImplementedError,
    ValueError,  # includes pydantic.ValidationError, json.JSONDecodeError, UnicodeError
    ZeroDivisionError,
    ImportError,
    ConfigurationError,
)


def signal_rule(exc: BaseException) -> Classification | None:
    """Classify :class:`Retryable`, :class:`Fatal` and :class:`Escalate` raised by user code."""
    if isinstance(exc, Retryable):
        return Classification.from_exception(
            exc, "retryable", "user_retryable", retry_after=exc.retry_after
        )
    if isinstance(exc, Fatal):
        return Classification.from_exception(exc, "fatal", "user_fatal")
    if isinstance(exc, Escalate):
        return Classification.from_exception(exc, "escalate", "user_escalate")
    return None


def network_rule(exc: BaseException) -> Classification | None:
    """Built-in timeouts (incl. ``asyncio.TimeoutError``) and connection errors: retryable.

    Must run before :func:`os_rule`: both are ``OSError`` subclasses.
    """
    if isinstance(exc, TimeoutError):
        return Classification.from_exception(exc, "retryable", "timeout")
    if isinstance(exc, ConnectionError | socket.gaierror):
        return Classification.from_exception(exc, "retryable", "connection")
    if isinstance(exc, OSError) and exc.errno in _NETWORK_ERRNOS:
        return Classification.from_exception(exc, "retryable", "connection", code=_errno_name(exc))
    return None


def os_rule(exc: BaseException) -> Classification | None:
    """A full disk escalates (a person must make room); other OS errors are fatal."""
    if not isinstance(exc, OSError):
        return None
    if exc.errno in _DISK_FULL:
        return Classification.from_exception(exc, "escalate", "disk_full", code=_errno_name(exc))
    return Classification.from_exception(exc, "fatal", "os_error", code=_errno_name(exc))


def bug_rule(exc: BaseException) -> Classification | None:
    """Programming errors (``TypeError``, ``KeyError``, ``ValueError``, ...) are fatal."""
    if isinstance(exc, _BUG_TYPES):
        return Classification.from_exception(exc, "fatal", "bug")
    return None


def _errno_name(exc: OSError) -> str | None:
    if exc.errno is None:
        return None
    return errno.errorcode.get(exc.errno, str(exc.errno))
