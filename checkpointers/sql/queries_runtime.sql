-- name: insert_dead_letter
INSERT INTO agent_graph_dead_letters (
    thread_id, graph, node, task_id, kind, reason, error_type, status_code, code, message,
    attempts, first_failure_at, last_failure_at, checkpoint_id
)
VALUES (
    %(thread_id)s, %(graph)s, %(node)s, %(task_id)s, %(kind)s, %(reason)s, %(error_type)s,
    %(status_code)s, %(code)s, %(message)s, %(attempts)s, %(first_failure_at)s,
    %(last_failure_at)s, %(checkpoint_id)s
)
ON CONFLICT (thread_id) WHERE state = 'open' DO UPDATE
SET node = EXCLUDED.node, task_id = EXCLUDED.task_id, kind = EXCLUDED.kind,
    reason = EXCLUDED.reason, error_type = EXCLUDED.error_type,
    status_code = EXCLUDED.status_code, code = EXCLUDED.code, message = EXCLUDED.message,
    attempts = EXCLUDED.attempts, last_failure_at = EXCLUDED.last_failure_at,
    checkpoint_id = EXCLUDED.checkpoint_id
RETURNING *

-- name: get_dead_letter
SELECT * FROM agent_graph_dead_letters WHERE id = %(id)s

-- name: list_dead_letters
SELECT * FROM agent_graph_dead_letters
WHERE (%(state)s::text IS NULL OR state = %(state)s::text)
  AND (%(reason)s::text IS NULL OR reason = %(reason)s::text)
ORDER BY id
LIMIT %(limit)s

-- name: close_dead_letter
UPDATE agent_graph_dead_letters
SET state = %(state)s, closed_at = now()
WHERE id = %(id)s AND state = 'open'
RETURNING *

-- name: start_attempt
-- Records that a node task starts an attempt and returns what earlier attempts of the same task
-- left behind (across processes and restarts), in one round trip. Attempts before the thread's
-- last redrive or escalation answer do not count: a person asked for fresh attempts.
WITH since AS (
    SELECT coalesce(max(id), 0) AS id
    FROM agent_graph_events
    WHERE thread_id = %(thread_id)s AND kind IN ('run_redriven', 'escalation_resolved')
), prior AS (
    SELECT count(*) FILTER (WHERE e.kind = 'node_started') AS started,
           count(*) FILTER (WHERE e.kind = 'node_failed') AS failed,
           min(e.at) FILTER (WHERE e.kind = 'node_started') AS first_started_at,
           max(e.at) FILTER (WHERE e.kind = 'node_failed') AS last_failed_at,
           (array_agg((e.data ->> 'delay')::float8 ORDER BY e.id DESC)
               FILTER (WHERE e.kind = 'node_failed'))[1] AS last_delay
    FROM agent_graph_events AS e, since
    WHERE e.thread_id = %(thread_id)s AND e.task_id = %(task_id)s AND e.id > since.id
), started AS (
    INSERT INTO agent_graph_events (thread_id, kind, node, task_id, attempt, owner, data)
    SELECT %(thread_id)s, 'node_started', %(node)s, %(task_id)s, prior.started + 1, %(owner)s,
           %(data)s
    FROM prior
    RETURNING attempt, at
)
SELECT prior.started, prior.failed, prior.first_started_at, prior.last_failed_at,
       prior.last_delay, started.attempt, started.at
FROM prior, started
