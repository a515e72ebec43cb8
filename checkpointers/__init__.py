"""Everything durable-agent-graph persists, in PostgreSQL.

- where: :func:`resolve_dsn` (``DATABASE_URL`` or the embedded server, :func:`embedded_dsn`);
- how: :func:`open_async_pool` / :func:`open_pool`, :func:`setup_database` (idempotent,
  concurrency-safe schema setup: langgraph's checkpoint tables plus our migrations);
- what: langgraph checkpoints (:func:`make_async_saver`, :func:`open_async_saver`,
  :func:`open_saver`), and our own tables (:class:`RunRegistry`, :class:`EventLog`,
  :class:`ArticleStore`).
"""

from checkpointers._admin import create_database, drop_database
from checkpointers._articles import ArticleStore
from checkpointers._dead_letters import DeadLetter, DeadLetterStore, NewDeadLetter
from checkpointers._dsn import redact_dsn, resolve_dsn, with_database
from checkpointers._embedded import DEFAULT_DATABASE, default_data_dir, embedded_dsn, stop_embedded
from checkpointers._errors import (
    DatabaseUnavailable,
    EmbeddedPostgresError,
    LeaseLost,
    MigrationError,
    RunNotFound,
)
from checkpointers._events import AttemptHistory, EventLog
from checkpointers._group_commit import GroupCommitter
from checkpointers._held_writes import HeldWrites, commit_held
from checkpointers._journal import (
    CostSummary,
    JournalEntry,
    JournalKey,
    JournalLookup,
    LlmJournal,
    NewJournalEntry,
    NodeCost,
    thread_cost,
)
from checkpointers._leases import Leases, lease_errors
from checkpointers._ledger import (
    EffectClaim,
    EffectLedger,
    EffectRecord,
    IdempotencyKeyConflict,
    content_hash,
)
from checkpointers._migrate import (
    SCHEMA_LOCK_KEY,
    schema_lock,
    setup_database,
    setup_database_sync,
)
from checkpointers._models import ArticleRecord, EventRecord, NewEvent, RunRecord
from checkpointers._pool import (
    AsyncPool,
    SyncPool,
    check_if_suspect,
    open_async_pool,
    open_pool,
)
from checkpointers._runs import RunClaim, RunRegistry
from checkpointers._savers import (
    BeforeCommit,
    HookedAsyncPostgresSaver,
    make_async_saver,
    open_async_saver,
    open_saver,
)

__all__ = [
    "DEFAULT_DATABASE",
    "SCHEMA_LOCK_KEY",
    "ArticleRecord",
    "ArticleStore",
    "AsyncPool",
    "AttemptHistory",
    "BeforeCommit",
    "CostSummary",
    "DatabaseUnavailable",
    "DeadLetter",
    "DeadLetterStore",
    "EffectClaim",
    "EffectLedger",
    "EffectRecord",
    "EmbeddedPostgresError",
    "EventLog",
    "EventRecord",
    "GroupCommitter",
    "HeldWrites",
    "HookedAsyncPostgresSaver",
    "IdempotencyKeyConflict",
    "JournalEntry",
    "JournalKey",
    "JournalLookup",
    "LeaseLost",
    "Leases",
    "LlmJournal",
    "MigrationError",
    "NewDeadLetter",
    "NewEvent",
    "NewJournalEntry",
    "NodeCost",
    "RunClaim",
    "RunNotFound",
    "RunRecord",
    "RunRegistry",
    "SyncPool",
    "check_if_suspect",
    "commit_held",
    "content_hash",
    "create_database",
    "default_data_dir",
    "drop_database",
    "embedded_dsn",
    "lease_errors",
    "make_async_saver",
    "open_async_pool",
    "open_async_saver",
    "open_pool",
    "open_saver",
    "redact_dsn",
    "resolve_dsn",
    "schema_lock",
    "setup_database",
    "setup_database_sync",
    "stop_embedded",
    "thread_cost",
    "with_database",
]
