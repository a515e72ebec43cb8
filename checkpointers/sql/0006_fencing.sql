-- Fencing tokens: each claim of a run increments its lease; every write a driver makes for the
-- thread (checkpoint, pending writes, events, effect claims, journal rows) checks, in its own
-- transaction, that the lease it holds is still the run's. A worker that froze (SIGSTOP, GC
-- pause, partition) and wakes up after its threads were claimed by another gets SQLSTATE DAG01
-- and its transaction writes nothing.

ALTER TABLE agent_graph_runs ADD COLUMN lease bigint NOT NULL DEFAULT 0;

-- True when p_lease is NULL (an unfenced writer: the CLI, Studio, an operator) or is the run's
-- current lease; raises DAG01 otherwise. FOR SHARE keeps the row's lease from changing until
-- the calling transaction ends: a claim (an UPDATE) waits for the fenced write to commit, and
-- a fenced write that comes after the claim sees the new lease.
CREATE FUNCTION agent_graph_fence(p_thread_id text, p_lease bigint)
    RETURNS boolean
    LANGUAGE plpgsql
AS $$
BEGIN
    IF p_lease IS NULL THEN
        RETURN true;
    END IF;
    PERFORM 1 FROM agent_graph_runs
     WHERE thread_id = p_thread_id AND lease = p_lease
       FOR SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'lease % of thread % was taken over by another claim', p_lease, p_thread_id
            USING ERRCODE = 'DAG01';
    END IF;
    RETURN true;
END;
$$;
