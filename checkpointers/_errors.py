"""Errors raised by the persistence layer (all derive from :class:`DurableAgentError`)."""

from __future__ import annotations

from policies._errors import DurableAgentError


class DatabaseUnavailable(DurableAgentError):
    """The PostgreSQL server did not accept a connection in time."""

    default_hint = "is the server running? check DATABASE_URL"


class EmbeddedPostgresError(DurableAgentError):
    """The embedded PostgreSQL server could not be started, reached or stopped."""

    default_hint = (
        "see the server log in the data directory, or set DATABASE_URL to use another server"
    )


class MigrationError(DurableAgentError):
    """The database schema could not be brought up to date."""

    default_hint = "check that the database user may create tables, then run the setup again"


class RunNotFound(DurableAgentError):
    """No run is registered under the given thread ID."""

    default_hint = "create the run first (RunRegistry.create) or check the thread ID"


class LeaseLost(DurableAgentError):
    """Another claim took the thread over: this process's lease on it is no longer valid.

    Raised instead of writing anything (checkpoint, event, effect claim, journal row) for a thread
    whose run was claimed by another driver since this process claimed it, e.g. after this
    worker was frozen long enough for the fleet to hand its threads to another worker.
    """

    default_hint = (
        "stop driving this thread: its new owner continues from the last checkpoint, and "
        "nothing was written by this call"
    )
