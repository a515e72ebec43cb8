"""Rules for psycopg (3) errors, by SQLSTATE.

``psycopg`` is imported lazily: if it was never imported, no exception can come from it.
"""

from __future__ import annotations

import sys

from ._classification import Classification

# 08 connection exception, 53 insufficient resources, 57 operator intervention (admin shutdown,
# query canceled, cannot connect now). 40001 serialization failure, 40P01 deadlock detected.
_RETRYABLE_CLASSES = frozenset({"08", "53", "57"})
_RETRYABLE_STATES = frozenset({"40001", "40P01"})


def psycopg_rule(exc: BaseException) -> Classification | None:
    """Classify psycopg errors: transient SQLSTATEs retryable, data and SQL errors fatal.

    Other ``OperationalError``s (lock not available, system errors) count as retryable too:
    they describe the database's state, not the request. Errors of other classes are left to
    the remaining rules (and end as ``retryable``/``unknown``).
    """
    if "psycopg" not in sys.modules:
        return None
    import psycopg

    if not isinstance(exc, psycopg.Error):
        return None
    sqlstate = exc.sqlstate
    if sqlstate is not None and (
        sqlstate[:2] in _RETRYABLE_CLASSES or sqlstate in _RETRYABLE_STATES
    ):
        return Classification.from_exception(exc, "retryable", "database", code=sqlstate)
    if isinstance(exc, psycopg.IntegrityError):
        return Classification.from_exception(exc, "fatal", "integrity", code=sqlstate)
    if isinstance(exc, psycopg.DataError | psycopg.ProgrammingError | psycopg.NotSupportedError):
        return Classification.from_exception(exc, "fatal", "database", code=sqlstate)
    if isinstance(exc, psycopg.OperationalError):
        return Classification.from_exception(exc, "retryable", "database", code=sqlstate)
    return None
