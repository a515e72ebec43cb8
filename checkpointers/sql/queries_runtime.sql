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

-- name: attempt_history
-- What earlier attempts of each node task of a thread left behind (across processes and
-- restarts): failures, interruptions by a crash, the last backoff. Attempts before the thread's
-- last redrive or escalation answer do not count: a person asked for fresh attempts.
WITH since AS (
    SELECT coalesce(max(id), 0) AS id
    FROM agent_graph_events
    WHERE thread_id = %(thread_id)s AND kind IN ('run_redriven', 'escalation_resolved')
)
SELECT e.task_id,
       count(*) FILTER (WHERE e.kind = 'node_failed') AS failed,
       count(*) FILTER (WHERE e.kind = 'node_interrupted') AS interrupted,
       min(e.at) AS first_at,
       max(e.at) FILTER (WHERE e.kind = 'node_failed') AS last_failed_at,
       (array_agg((e.data ->> 'delay')::float8 ORDER BY e.id DESC)
           FILTER (WHERE e.kind = 'node_failed'))[1] AS last_delay,
       (array_agg(e.kind ORDER BY e.id DESC))[1] AS last_kind
FROM agent_graph_events AS e, since
WHERE e.thread_id = %(thread_id)s
  AND e.id > since.id
  AND e.task_id IS NOT NULL
  AND e.kind IN ('node_failed', 'node_interrupted')
GROUP BY e.task_id
