-- Named queries of checkpointers (loaded by checkpointers/_queries.py).
-- Each section starts with "-- name: <identifier>". Values use psycopg placeholders
-- %(name)s; identifiers use {name} fields filled with psycopg.sql.Identifier.

-- name: ping
SELECT 1 AS ok

-- name: database_exists
SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = %(name)s) AS present

-- name: create_database
CREATE DATABASE {name}

-- name: create_database_from_template
CREATE DATABASE {name} TEMPLATE {template}

-- name: drop_database
DROP DATABASE IF EXISTS {name} WITH (FORCE)

-- name: try_advisory_lock
SELECT pg_try_advisory_lock(%(key)s) AS locked

-- name: advisory_unlock
SELECT pg_advisory_unlock(%(key)s) AS unlocked

-- name: create_migrations_table
CREATE TABLE IF NOT EXISTS agent_graph_schema_migrations (
    version    integer     PRIMARY KEY,
    name       text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)

-- name: applied_migrations
SELECT version, name, applied_at FROM agent_graph_schema_migrations ORDER BY version

-- name: record_migration
INSERT INTO agent_graph_schema_migrations (version, name) VALUES (%(version)s, %(name)s)

-- name: insert_event
-- Fenced: with a lease, nothing is inserted (DAG01) unless the lease is the run's.
INSERT INTO agent_graph_events (thread_id, kind, node, task_id, attempt, owner, data)
SELECT %(thread_id)s, %(kind)s, %(node)s, %(task_id)s, %(attempt)s::integer, %(owner)s,
       %(data)s::jsonb
WHERE agent_graph_fence(%(thread_id)s, %(lease)s::bigint)
RETURNING id

-- name: list_events
SELECT id, thread_id, at, kind, node, task_id, attempt, owner, data
FROM agent_graph_events
WHERE thread_id = %(thread_id)s
  AND (%(kinds)s::text[] IS NULL OR kind = ANY (%(kinds)s::text[]))
ORDER BY id

-- name: get_run
SELECT thread_id, graph, status, input, owner, heartbeat_at, recoveries, error,
       lease, created_at, updated_at
FROM agent_graph_runs
WHERE thread_id = %(thread_id)s

-- name: create_run
INSERT INTO agent_graph_runs (thread_id, graph, status, input)
VALUES (%(thread_id)s, %(graph)s, %(status)s, %(input)s)
ON CONFLICT (thread_id) DO NOTHING
RETURNING thread_id, graph, status, input, owner, heartbeat_at, recoveries, error,
          lease, created_at, updated_at

-- name: claim_run
-- The CTE locks the row and keeps its values from before the UPDATE, so the caller sees the
-- previous owner, status and heartbeat (a concurrent claim waits and then sees ours), and
-- new_lease, the fencing token of this claim (see 0006_fencing.sql).
WITH previous AS (
    SELECT thread_id, graph, status, input, owner, heartbeat_at, recoveries, error,
           lease, created_at, updated_at
    FROM agent_graph_runs
    WHERE thread_id = %(thread_id)s
    FOR UPDATE
)
UPDATE agent_graph_runs AS r
SET status = 'running', owner = %(owner)s, heartbeat_at = now(), updated_at = now(),
    lease = r.lease + 1
FROM previous
WHERE r.thread_id = previous.thread_id
RETURNING previous.thread_id, previous.graph, previous.status, previous.input, previous.owner,
          previous.heartbeat_at, previous.recoveries, previous.error, previous.lease,
          previous.created_at, previous.updated_at, r.lease AS new_lease

-- name: start_new_run
-- A brand-new thread in one statement and one commit: its run, already claimed by the owner
-- (status, heartbeat and lease as claim_run leaves a run it claims for the first time: lease 1,
-- one more than the default 0), and its first event. Nothing at all when the thread has a run
-- or a root checkpoint (written by a plain invoke): no row comes back, and the caller takes the
-- general path. A concurrent insert of the same run makes ON CONFLICT wait for it, then skip.
WITH run AS (
    INSERT INTO agent_graph_runs (thread_id, graph, status, input, owner, heartbeat_at, lease)
    SELECT %(thread_id)s::text, %(graph)s::text, 'running', %(input)s::jsonb,
           %(run_owner)s::text, now(), 1
    WHERE NOT EXISTS (
        SELECT 1 FROM checkpoints
        WHERE thread_id = %(thread_id)s::text AND checkpoint_ns = ''
    )
    ON CONFLICT (thread_id) DO NOTHING
    RETURNING thread_id, graph, status, input, owner, heartbeat_at, recoveries, error,
              lease, created_at, updated_at
), started AS (
    INSERT INTO agent_graph_events (thread_id, kind, node, task_id, attempt, owner, data)
    SELECT run.thread_id, %(kind)s::text, %(node)s::text, %(task_id)s::text,
           %(attempt)s::integer, %(owner)s::text, %(data)s::jsonb
    FROM run
)
SELECT thread_id, graph, status, input, owner, heartbeat_at, recoveries, error, lease,
       created_at, updated_at
FROM run

-- name: set_run_status
UPDATE agent_graph_runs
SET status = %(status)s, error = %(error)s, updated_at = now()
WHERE thread_id = %(thread_id)s
  AND (%(owner)s::text IS NULL OR owner = %(owner)s::text)
  AND (%(lease)s::bigint IS NULL OR lease = %(lease)s::bigint)
RETURNING thread_id

-- name: set_local_lock_timeout
-- For the rest of the transaction only.
SELECT set_config('lock_timeout', %(ms)s, true)

-- name: check_leases
-- Fences threads (see agent_graph_fence) in the order given: callers sort them by thread, so
-- that transactions lock runs in one order and cannot deadlock.
SELECT agent_graph_fence(f.thread_id, f.lease)
FROM unnest(%(thread_ids)s::text[], %(leases)s::bigint[]) AS f(thread_id, lease)

-- name: heartbeat_runs
-- Rows are locked in thread order, as a shared checkpoint transaction fences them: the two
-- cannot deadlock.
WITH mine AS (
    SELECT thread_id FROM agent_graph_runs
    WHERE owner = %(owner)s AND thread_id = ANY (%(thread_ids)s::text[])
    ORDER BY thread_id
    FOR NO KEY UPDATE
)
UPDATE agent_graph_runs AS r
SET heartbeat_at = now()
FROM mine
WHERE r.thread_id = mine.thread_id
RETURNING r.thread_id

-- name: increment_recoveries
UPDATE agent_graph_runs
SET recoveries = recoveries + 1, updated_at = now()
WHERE thread_id = %(thread_id)s
RETURNING recoveries

-- name: list_runs
SELECT thread_id, graph, status, input, owner, heartbeat_at, recoveries, error,
       lease, created_at, updated_at
FROM agent_graph_runs
WHERE %(status)s::text IS NULL OR status = %(status)s::text
ORDER BY created_at DESC, thread_id
LIMIT %(limit)s

-- name: list_stale_runs
SELECT thread_id, graph, status, input, owner, heartbeat_at, recoveries, error,
       lease, created_at, updated_at
FROM agent_graph_runs
WHERE status = 'running'
  AND (heartbeat_at IS NULL OR heartbeat_at < now() - make_interval(secs => %(seconds)s))
ORDER BY heartbeat_at NULLS FIRST, thread_id
LIMIT %(limit)s

-- name: upsert_article
INSERT INTO agent_graph_articles (slug, thread_id, keyword, title, markdown, meta)
VALUES (%(slug)s, %(thread_id)s, %(keyword)s, %(title)s, %(markdown)s, %(meta)s)
ON CONFLICT (slug) DO UPDATE
SET thread_id = EXCLUDED.thread_id,
    keyword = EXCLUDED.keyword,
    title = EXCLUDED.title,
    markdown = EXCLUDED.markdown,
    meta = EXCLUDED.meta
RETURNING slug, thread_id, keyword, title, markdown, meta, created_at

-- name: get_article
SELECT slug, thread_id, keyword, title, markdown, meta, created_at
FROM agent_graph_articles
WHERE slug = %(slug)s

-- name: count_articles
SELECT count(*) AS n FROM agent_graph_articles

-- name: limit_idle_transactions
-- Set on every pooled connection: a process frozen (SIGSTOP, GC pause, partition) in the middle
-- of a transaction must not hold its row locks (e.g. the lease check's) past this, or the worker
-- taking its threads over would wait on them until it wakes up.
SELECT set_config('idle_in_transaction_session_timeout', %(timeout)s, false)
