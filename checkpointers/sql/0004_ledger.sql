-- Idempotency ledger: one row per side effect (and its compensation), keyed by idempotency key.
-- status: claimed (acting, or died before recording) -> done (result stored) -> compensating
-- (undo claimed) -> compensated. seq orders a thread's effects for compensation in reverse.

CREATE TABLE agent_graph_effects (
    key                 text        PRIMARY KEY,
    seq                 bigserial   NOT NULL UNIQUE,
    thread_id           text        NOT NULL,
    node                text,
    name                text        NOT NULL,
    content_hash        text        NOT NULL,
    status              text        NOT NULL DEFAULT 'claimed'
        CHECK (status IN ('claimed', 'done', 'compensating', 'compensated')),
    result              jsonb,
    compensation        jsonb,
    compensation_result jsonb,
    claims              integer     NOT NULL DEFAULT 1,
    claimed_by          text,
    claimed_at          timestamptz NOT NULL DEFAULT now(),
    done_at             timestamptz,
    compensated_at      timestamptz
);

CREATE INDEX agent_graph_effects_thread_idx ON agent_graph_effects (thread_id, seq);
