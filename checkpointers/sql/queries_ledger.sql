-- Named queries of the idempotency ledger (checkpointers/_ledger.py).

-- name: claim_effect
WITH inserted AS (
    INSERT INTO agent_graph_effects (key, thread_id, node, name, content_hash, claimed_by)
    SELECT %(key)s, %(thread_id)s, %(node)s, %(name)s, %(content_hash)s, %(owner)s
    WHERE agent_graph_fence(%(thread_id)s, %(lease)s::bigint)
    ON CONFLICT (key) DO NOTHING
    RETURNING key, seq, thread_id, node, name, content_hash, status, result, compensation,
              compensation_result, claims, claimed_by, claimed_at, done_at, compensated_at
)
SELECT *, true AS fresh FROM inserted
UNION ALL
SELECT key, seq, thread_id, node, name, content_hash, status, result, compensation,
       compensation_result, claims, claimed_by, claimed_at, done_at, compensated_at,
       false AS fresh
FROM agent_graph_effects
WHERE key = %(key)s AND NOT EXISTS (SELECT 1 FROM inserted)

-- name: reclaim_effect
UPDATE agent_graph_effects
SET claims = claims + 1, claimed_by = %(owner)s, claimed_at = now()
WHERE key = %(key)s AND status = 'claimed'
  AND agent_graph_fence(thread_id, %(lease)s::bigint)
RETURNING key, seq, thread_id, node, name, content_hash, status, result, compensation,
          compensation_result, claims, claimed_by, claimed_at, done_at, compensated_at

-- name: record_effect
UPDATE agent_graph_effects
SET status = 'done', result = %(result)s, compensation = %(compensation)s, done_at = now()
WHERE key = %(key)s AND status = 'claimed'
RETURNING key, seq, thread_id, node, name, content_hash, status, result, compensation,
          compensation_result, claims, claimed_by, claimed_at, done_at, compensated_at

-- name: get_effect
SELECT key, seq, thread_id, node, name, content_hash, status, result, compensation,
       compensation_result, claims, claimed_by, claimed_at, done_at, compensated_at
FROM agent_graph_effects
WHERE key = %(key)s

-- name: list_effects
SELECT key, seq, thread_id, node, name, content_hash, status, result, compensation,
       compensation_result, claims, claimed_by, claimed_at, done_at, compensated_at
FROM agent_graph_effects
WHERE thread_id = %(thread_id)s
ORDER BY seq

-- name: begin_compensation
UPDATE agent_graph_effects
SET status = 'compensating'
WHERE key = %(key)s AND status = 'done'
RETURNING key, seq, thread_id, node, name, content_hash, status, result, compensation,
          compensation_result, claims, claimed_by, claimed_at, done_at, compensated_at

-- name: finish_compensation
UPDATE agent_graph_effects
SET status = 'compensated', compensation_result = %(result)s, compensated_at = now()
WHERE key = %(key)s AND status = 'compensating'
RETURNING key, seq, thread_id, node, name, content_hash, status, result, compensation,
          compensation_result, claims, claimed_by, claimed_at, done_at, compensated_at
