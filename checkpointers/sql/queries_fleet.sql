-- Named queries of the worker fleet (agent_graph.fleet).

-- name: fleet_procrastinate_installed
SELECT to_regclass('procrastinate_jobs') IS NOT NULL AS installed

-- name: fleet_submit
-- One job per thread; a thread that already has a queued job keeps it (not an error).
INSERT INTO procrastinate_jobs (queue_name, task_name, priority, lock, queueing_lock, args)
SELECT %(queue)s, %(task)s, 0, t.thread_id, t.thread_id,
       jsonb_build_object('thread_id', t.thread_id, 'keyword', t.keyword)
  FROM unnest(%(thread_ids)s::text[], %(keywords)s::text[]) AS t (thread_id, keyword)
    ON CONFLICT (queueing_lock) WHERE status = 'todo' DO NOTHING
RETURNING id, queueing_lock AS thread_id

-- name: fleet_register_worker
INSERT INTO agent_graph_workers (owner, queue_worker, concurrency, state)
VALUES (%(owner)s, %(queue_worker)s, %(concurrency)s, 'running')
    ON CONFLICT (owner) DO UPDATE
   SET queue_worker = EXCLUDED.queue_worker, concurrency = EXCLUDED.concurrency,
       state = 'running', started_at = now(), heartbeat_at = now()

-- name: fleet_worker_heartbeat
UPDATE agent_graph_workers
   SET heartbeat_at = now(), queue_worker = coalesce(%(queue_worker)s, queue_worker)
 WHERE owner = %(owner)s

-- name: fleet_worker_state
UPDATE agent_graph_workers SET state = %(state)s, heartbeat_at = now() WHERE owner = %(owner)s

-- name: fleet_workers
SELECT w.owner, w.concurrency, w.state, w.started_at, w.heartbeat_at,
       extract(epoch FROM now() - w.heartbeat_at)::double precision AS heartbeat_age,
       (SELECT count(*) FROM procrastinate_jobs j
         WHERE j.status = 'doing' AND w.queue_worker IS NOT NULL
           AND j.worker_id = w.queue_worker)::integer AS running
  FROM agent_graph_workers w
 ORDER BY w.started_at

-- name: fleet_forget_workers
-- Workers silent for longer than %(seconds)s (stopped long ago or dead) leave the view.
DELETE FROM agent_graph_workers
 WHERE heartbeat_at < now() - make_interval(secs => %(seconds)s::double precision)

-- name: fleet_job_counts
SELECT status::text AS status, count(*)::integer AS n
  FROM procrastinate_jobs
 WHERE queue_name = %(queue)s
 GROUP BY status

-- name: fleet_run_counts
SELECT status, count(*)::integer AS n FROM agent_graph_runs GROUP BY status

-- name: llm_set_limit
INSERT INTO agent_graph_llm_limits (model, max_concurrent, rpm, burst, tokens, refilled_at)
VALUES (%(model)s, %(max_concurrent)s, %(rpm)s, %(burst)s, %(burst)s, clock_timestamp())
    ON CONFLICT (model) DO UPDATE
   SET max_concurrent = EXCLUDED.max_concurrent, rpm = EXCLUDED.rpm, burst = EXCLUDED.burst,
       tokens = least(agent_graph_llm_limits.tokens, EXCLUDED.burst)

-- name: llm_clear_limit
DELETE FROM agent_graph_llm_limits WHERE model = %(model)s

-- name: llm_acquire
-- Leases and tokens are short-lived: their commit does not wait for the disk (a server crash
-- may forget the last few, which frees slots early or lets a lease run to its expiry).
SELECT a.granted, a.lease_id, a.wait_seconds
  FROM set_config('synchronous_commit', 'off', true) AS s,
       agent_graph_llm_acquire(%(model)s, %(owner)s, %(ttl)s::double precision) AS a

-- name: llm_release
WITH s AS (SELECT set_config('synchronous_commit', 'off', true))
DELETE FROM agent_graph_llm_leases WHERE id = %(lease_id)s AND EXISTS (SELECT FROM s)

-- name: llm_usage
SELECT l.model, l.max_concurrent, l.rpm,
       (SELECT count(*) FROM agent_graph_llm_leases s
         WHERE s.model = l.model AND s.expires_at >= clock_timestamp())::integer AS in_flight
  FROM agent_graph_llm_limits l
 ORDER BY l.model
