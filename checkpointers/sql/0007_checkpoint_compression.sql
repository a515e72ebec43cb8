-- langgraph's checkpoints are JSON of a few kilobytes (every channel's version and every node's
-- versions seen, growing with each step), which the server compresses as it stores them. With
-- the default method (pglz) that compression is about a third of a checkpoint insert; lz4 takes
-- a fraction of that CPU for similar sizes. Where the server was built with lz4, new values of
-- the checkpoint tables are compressed with it; rows already stored stay as they are, and every
-- reader reads both. Servers without lz4 keep pglz.
DO $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM pg_settings
         WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)
    ) THEN
        ALTER TABLE checkpoints ALTER COLUMN checkpoint SET COMPRESSION lz4;
        ALTER TABLE checkpoint_blobs ALTER COLUMN blob SET COMPRESSION lz4;
        ALTER TABLE checkpoint_writes ALTER COLUMN blob SET COMPRESSION lz4;
    END IF;
END
$$;
