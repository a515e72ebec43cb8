-- The worker fleet: a registry of worker processes with heartbeats, and the fleet-wide LLM
-- flow control (concurrency leases and a requests-per-minute token bucket per model).
-- The job queue itself is Procrastinate's (its own schema, applied by agent_graph.fleet).

CREATE TABLE agent_graph_workers (
    owner        text        PRIMARY KEY,
    queue_worker bigint,
    concurrency  integer     NOT NULL,
    state        text        NOT NULL DEFAULT 'running',
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE agent_graph_llm_limits (
    model          text             PRIMARY KEY,
    max_concurrent integer          CHECK (max_concurrent IS NULL OR max_concurrent > 0),
    rpm            integer          CHECK (rpm IS NULL OR rpm > 0),
    burst          double precision NOT NULL DEFAULT 1 CHECK (burst >= 1),
    tokens         double precision NOT NULL DEFAULT 1,
    refilled_at    timestamptz      NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE agent_graph_llm_leases (
    id          bigserial   PRIMARY KEY,
    model       text        NOT NULL REFERENCES agent_graph_llm_limits (model) ON DELETE CASCADE,
    owner       text        NOT NULL,
    acquired_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    expires_at  timestamptz NOT NULL
);

CREATE INDEX agent_graph_llm_leases_model_idx ON agent_graph_llm_leases (model, expires_at);

-- One round trip per attempt to acquire: returns (granted, lease_id, wait_seconds).
-- granted with a NULL lease_id: the model has no limits. Not granted: wait_seconds is the
-- time until a request token is due, or 0 when every concurrency slot is taken.
CREATE FUNCTION agent_graph_llm_acquire(p_model text, p_owner text, p_ttl double precision)
    RETURNS TABLE (granted boolean, lease_id bigint, wait_seconds double precision)
    LANGUAGE plpgsql
AS $$
DECLARE
    v_now      timestamptz := clock_timestamp();
    v_max      integer;
    v_rpm      integer;
    v_burst    double precision;
    v_tokens   double precision;
    v_refilled timestamptz;
    v_active   integer;
    v_id       bigint;
BEGIN
    SELECT l.max_concurrent, l.rpm, l.burst, l.tokens, l.refilled_at
      INTO v_max, v_rpm, v_burst, v_tokens, v_refilled
      FROM agent_graph_llm_limits l
     WHERE l.model = p_model
       FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT true, NULL::bigint, 0::double precision;
        RETURN;
    END IF;
    -- leases of crashed holders expire instead of leaking a slot forever
    DELETE FROM agent_graph_llm_leases WHERE model = p_model AND expires_at < v_now;
    IF v_max IS NOT NULL THEN
        SELECT count(*) INTO v_active FROM agent_graph_llm_leases WHERE model = p_model;
        IF v_active >= v_max THEN
            RETURN QUERY SELECT false, NULL::bigint, 0::double precision;
            RETURN;
        END IF;
    END IF;
    IF v_rpm IS NOT NULL THEN
        v_tokens := least(
            v_burst, v_tokens + extract(epoch FROM v_now - v_refilled) * v_rpm / 60.0
        );
        IF v_tokens < 1 THEN
            RETURN QUERY SELECT false, NULL::bigint, (1 - v_tokens) * 60.0 / v_rpm;
            RETURN;
        END IF;
        UPDATE agent_graph_llm_limits
           SET tokens = v_tokens - 1, refilled_at = v_now
         WHERE model = p_model;
    END IF;
    INSERT INTO agent_graph_llm_leases (model, owner, expires_at)
         VALUES (p_model, p_owner, v_now + make_interval(secs => p_ttl))
      RETURNING id INTO v_id;
    RETURN QUERY SELECT true, v_id, 0::double precision;
END;
$$;
