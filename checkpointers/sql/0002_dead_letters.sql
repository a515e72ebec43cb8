-- Dead letters: threads stopped by a failure no retry can fix, kept for a person to inspect,
-- redrive (resume from the failure point) or discard.

CREATE TABLE agent_graph_dead_letters (
    id               bigserial   PRIMARY KEY,
    thread_id        text        NOT NULL,
    graph            text,
    node             text,
    task_id          text,
    kind             text        NOT NULL,
    reason           text        NOT NULL,
    error_type       text,
    status_code      integer,
    code             text,
    message          text,
    attempts         integer     NOT NULL DEFAULT 0,
    first_failure_at timestamptz,
    last_failure_at  timestamptz,
    checkpoint_id    text,
    state            text        NOT NULL DEFAULT 'open',
    created_at       timestamptz NOT NULL DEFAULT now(),
    closed_at        timestamptz
);

CREATE INDEX agent_graph_dead_letters_state_idx ON agent_graph_dead_letters (state, reason);

-- at most one open dead letter per thread
CREATE UNIQUE INDEX agent_graph_dead_letters_open_idx
    ON agent_graph_dead_letters (thread_id) WHERE state = 'open';
