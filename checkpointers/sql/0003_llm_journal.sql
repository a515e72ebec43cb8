-- LLM response journal and per-thread budgets.
--
-- One journal row per LLM response a durable node received (the provider was paid for it).
-- A node that runs again after a crash reads its earlier responses back instead of asking the
-- provider: a row is found by (thread, node, task, request hash, occurrence). Several rows may
-- share a key: the responses of an attempt that failed are not replayed, so its retry asks the
-- provider again and the new answer gets its own row. `request` is a redacted copy of what was
-- sent (never the API key), kept for diagnostics; `usd` is priced when the response arrived.

CREATE TABLE agent_graph_llm_journal (
    id                bigserial   PRIMARY KEY,
    thread_id         text        NOT NULL,
    node              text        NOT NULL,
    task_id           text        NOT NULL DEFAULT '',
    request_hash      text        NOT NULL,
    occurrence        integer     NOT NULL,
    attempt           integer,
    model             text        NOT NULL,
    request           jsonb       NOT NULL,
    response          jsonb       NOT NULL,
    prompt_tokens     integer     NOT NULL DEFAULT 0,
    completion_tokens integer     NOT NULL DEFAULT 0,
    usd               numeric     NOT NULL DEFAULT 0,
    owner             text,
    created_at        timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE INDEX agent_graph_llm_journal_key_idx
    ON agent_graph_llm_journal (thread_id, request_hash, occurrence, task_id);

CREATE TABLE agent_graph_thread_budgets (
    thread_id  text        PRIMARY KEY,
    usd        numeric     NOT NULL CHECK (usd >= 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);
