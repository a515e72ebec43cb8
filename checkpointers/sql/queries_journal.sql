-- Named queries of the LLM journal and thread budgets (checkpointers/_journal.py).

-- name: journal_lookup
-- One round trip before each LLM call: the replayable response for this request (if any),
-- the thread's budget (NULL: none) and what the thread has spent so far. A row recorded by an
-- attempt that then ended in node_failed is not replayable (its retry must ask again); the
-- time test keeps a failure from before a redrive (attempts renumbered) from matching.
WITH hit AS (
    SELECT j.id, j.attempt, j.model, j.response, j.prompt_tokens, j.completion_tokens, j.usd,
           j.owner, j.created_at
    FROM agent_graph_llm_journal AS j
    WHERE j.thread_id = %(thread_id)s
      AND j.request_hash = %(request_hash)s
      AND j.occurrence = %(occurrence)s
      AND j.task_id = %(task_id)s
      AND j.node = %(node)s
      AND NOT EXISTS (
          SELECT 1
          FROM agent_graph_events AS e
          WHERE e.thread_id = j.thread_id
            AND e.kind = 'node_failed'
            AND coalesce(e.task_id, '') = j.task_id
            AND e.attempt = j.attempt
            AND e.at > j.created_at
      )
    ORDER BY j.id DESC
    LIMIT 1
)
SELECT hit.id, hit.attempt, hit.model, hit.response, hit.prompt_tokens, hit.completion_tokens, hit.usd,
       hit.owner, hit.created_at,
       budget.usd AS budget_usd,
       (SELECT coalesce(sum(spent.usd), 0)
        FROM agent_graph_llm_journal AS spent
        WHERE spent.thread_id = %(thread_id)s) AS spent_usd
FROM (SELECT 1) AS one
LEFT JOIN hit ON true
LEFT JOIN agent_graph_thread_budgets AS budget ON budget.thread_id = %(thread_id)s

-- name: journal_insert
INSERT INTO agent_graph_llm_journal (
    thread_id, node, task_id, request_hash, occurrence, attempt, model, request, response,
    prompt_tokens, completion_tokens, usd, owner
)
VALUES (
    %(thread_id)s, %(node)s, %(task_id)s, %(request_hash)s, %(occurrence)s, %(attempt)s,
    %(model)s, %(request)s, %(response)s, %(prompt_tokens)s, %(completion_tokens)s, %(usd)s,
    %(owner)s
)
RETURNING id, created_at

-- name: journal_insert_with_event
-- The response and its event (data gains journal_id) in one statement, so one round trip and
-- one commit; the event is fenced like insert_event, and a refused fence inserts neither.
WITH entry AS (
    INSERT INTO agent_graph_llm_journal (
        thread_id, node, task_id, request_hash, occurrence, attempt, model, request, response,
        prompt_tokens, completion_tokens, usd, owner
    )
    VALUES (
        %(thread_id)s, %(node)s, %(task_id)s, %(request_hash)s, %(occurrence)s, %(attempt)s,
        %(model)s, %(request)s, %(response)s, %(prompt_tokens)s, %(completion_tokens)s, %(usd)s,
        %(owner)s
    )
    RETURNING id
)
INSERT INTO agent_graph_events (thread_id, kind, node, task_id, attempt, owner, data)
SELECT %(event_thread_id)s, %(event_kind)s, %(event_node)s, %(event_task_id)s,
       %(event_attempt)s::integer, %(event_owner)s,
       %(event_data)s::jsonb || jsonb_build_object('journal_id', entry.id)
FROM entry
WHERE agent_graph_fence(%(event_thread_id)s, %(event_lease)s::bigint)
RETURNING (SELECT id FROM entry) AS id

-- name: journal_entries
SELECT id, thread_id, node, task_id, request_hash, occurrence, attempt, model, request,
       response, prompt_tokens, completion_tokens, usd, owner, created_at
FROM agent_graph_llm_journal
WHERE thread_id = %(thread_id)s
ORDER BY id

-- name: journal_cost
-- Totals of a thread. saved_usd: the calls recorded before the thread's latest resume or
-- redrive (a restart from scratch would have paid them again), plus replays of calls recorded
-- after it (a node run again within the same run), so no call is counted twice.
WITH resumed AS (
    SELECT max(at) AS at
    FROM agent_graph_events
    WHERE thread_id = %(thread_id)s AND kind IN ('run_resumed', 'run_redriven')
), calls AS (
    SELECT node, usd, prompt_tokens, completion_tokens, created_at
    FROM agent_graph_llm_journal
    WHERE thread_id = %(thread_id)s
), replays AS (
    SELECT (data ->> 'usd')::numeric AS usd, (data ->> 'recorded_at')::timestamptz AS recorded_at
    FROM agent_graph_events
    WHERE thread_id = %(thread_id)s AND kind = 'llm_replayed'
), nodes AS (
    SELECT node, sum(usd) AS usd, sum(prompt_tokens) AS prompt_tokens,
           sum(completion_tokens) AS completion_tokens, count(*) AS calls
    FROM calls
    GROUP BY node
)
SELECT
    (SELECT count(*) FROM calls) AS calls,
    (SELECT coalesce(sum(usd), 0) FROM calls) AS usd,
    (SELECT coalesce(sum(prompt_tokens), 0) FROM calls) AS prompt_tokens,
    (SELECT coalesce(sum(completion_tokens), 0) FROM calls) AS completion_tokens,
    (SELECT count(*) FROM replays) AS replayed_calls,
    (SELECT coalesce(sum(calls.usd), 0) FROM calls, resumed WHERE calls.created_at < resumed.at)
      + (SELECT coalesce(sum(replays.usd), 0)
         FROM replays, resumed
         WHERE resumed.at IS NULL OR replays.recorded_at >= resumed.at) AS saved_usd,
    (SELECT coalesce(
         jsonb_object_agg(node, jsonb_build_object(
             'usd', usd, 'prompt_tokens', prompt_tokens,
             'completion_tokens', completion_tokens, 'calls', calls)),
         '{}'::jsonb)
     FROM nodes) AS per_node

-- name: get_thread_budget
SELECT usd FROM agent_graph_thread_budgets WHERE thread_id = %(thread_id)s

-- name: set_thread_budget
INSERT INTO agent_graph_thread_budgets (thread_id, usd)
VALUES (%(thread_id)s, %(usd)s)
ON CONFLICT (thread_id) DO UPDATE SET usd = EXCLUDED.usd, updated_at = now()

-- name: clear_thread_budget
DELETE FROM agent_graph_thread_budgets WHERE thread_id = %(thread_id)s
