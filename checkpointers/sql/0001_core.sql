-- Core tables of durable-agent-graph: run registry, append-only event log, published articles.
-- Applied once, inside a transaction, by checkpointers._migrate (recorded in
-- agent_graph_schema_migrations).

CREATE TABLE agent_graph_runs (
    thread_id    text        PRIMARY KEY,
    graph        text        NOT NULL,
    status       text        NOT NULL,
    input        jsonb,
    owner        text,
    heartbeat_at timestamptz,
    recoveries   integer     NOT NULL DEFAULT 0,
    error        jsonb,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX agent_graph_runs_status_idx ON agent_graph_runs (status);

CREATE TABLE agent_graph_events (
    id        bigserial   PRIMARY KEY,
    thread_id text        NOT NULL,
    at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    kind      text        NOT NULL,
    node      text,
    task_id   text,
    attempt   integer,
    owner     text,
    data      jsonb       NOT NULL DEFAULT '{}'
);

CREATE INDEX agent_graph_events_thread_idx ON agent_graph_events (thread_id, id);

CREATE TABLE agent_graph_articles (
    slug       text        PRIMARY KEY,
    thread_id  text        NOT NULL,
    keyword    text        NOT NULL,
    title      text        NOT NULL,
    markdown   text        NOT NULL,
    meta       jsonb       NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
);
