-- Many rows in one statement: each parameter is one column as an array, zipped by unnest, sent
-- in binary (the b placeholders: psycopg's text form of an array escapes each element with a
-- regular expression, several times slower).
-- One execution per statement instead of one per row: the server parses, plans and starts an
-- executor once for a whole group commit, and the client sends a handful of arrays.
-- Each mirrors a one-row statement of langgraph's Postgres saver (same table, same conflict
-- handling); checkpointers/_batched.py maps one to the other.

-- name: batch_upsert_checkpoint_blobs
INSERT INTO checkpoint_blobs (thread_id, checkpoint_ns, channel, version, type, blob)
SELECT * FROM unnest(%(thread_id)b::text[], %(checkpoint_ns)b::text[], %(channel)b::text[],
                     %(version)b::text[], %(type)b::text[], %(blob)b::bytea[])
ON CONFLICT (thread_id, checkpoint_ns, channel, version) DO NOTHING

-- name: batch_upsert_checkpoints
INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id,
                         checkpoint, metadata)
SELECT * FROM unnest(%(thread_id)b::text[], %(checkpoint_ns)b::text[], %(checkpoint_id)b::text[],
                     %(parent_checkpoint_id)b::text[], %(checkpoint)b::jsonb[],
                     %(metadata)b::jsonb[])
ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id)
DO UPDATE SET checkpoint = EXCLUDED.checkpoint, metadata = EXCLUDED.metadata

-- name: batch_upsert_checkpoint_writes
INSERT INTO checkpoint_writes (thread_id, checkpoint_ns, checkpoint_id, task_id, task_path,
                               idx, channel, type, blob)
SELECT * FROM unnest(%(thread_id)b::text[], %(checkpoint_ns)b::text[], %(checkpoint_id)b::text[],
                     %(task_id)b::text[], %(task_path)b::text[], %(idx)b::integer[],
                     %(channel)b::text[], %(type)b::text[], %(blob)b::bytea[])
ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id, task_id, idx)
DO UPDATE SET channel = EXCLUDED.channel, type = EXCLUDED.type, blob = EXCLUDED.blob

-- name: batch_insert_checkpoint_writes
INSERT INTO checkpoint_writes (thread_id, checkpoint_ns, checkpoint_id, task_id, task_path,
                               idx, channel, type, blob)
SELECT * FROM unnest(%(thread_id)b::text[], %(checkpoint_ns)b::text[], %(checkpoint_id)b::text[],
                     %(task_id)b::text[], %(task_path)b::text[], %(idx)b::integer[],
                     %(channel)b::text[], %(type)b::text[], %(blob)b::bytea[])
ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id, task_id, idx) DO NOTHING

-- name: batch_insert_events
-- Events in the order given (ids follow it). Fenced row by row as insert_event: the function
-- scan yields the rows in array order, so runs are locked in the order the caller sorted them.
INSERT INTO agent_graph_events (thread_id, kind, node, task_id, attempt, owner, data)
SELECT e.thread_id, e.kind, e.node, e.task_id, e.attempt, e.owner, e.data
FROM unnest(%(thread_id)b::text[], %(kind)b::text[], %(node)b::text[], %(task_id)b::text[],
            %(attempt)b::integer[], %(owner)b::text[], %(data)b::jsonb[], %(lease)b::bigint[])
     AS e (thread_id, kind, node, task_id, attempt, owner, data, lease)
WHERE agent_graph_fence(e.thread_id, e.lease)
