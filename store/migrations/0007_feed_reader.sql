-- A read-only role for feed consumers (issue 14).
--
-- Until now a service that wanted the feed had to log in as a member of accord_app, which
-- may append (through the append functions) and write the read models and the consumer
-- checkpoints. accord_reader may read the feed and nothing else:
--   accord.read_feed(after, limit)       the feed, as `accord events --json` shows it
--   accord.read_feed_data(after, limit)  its narrow form (data as text)
--   accord.feed_cursor(position)         what both use to resume after a checkpoint
-- The three run with the caller's rights (SECURITY INVOKER), so the reader also needs
-- SELECT on accord.events, the rows they return. No right on accord.streams, the read
-- models, the checkpoints, the position sequence or any append function: the append
-- functions run as the owner (SECURITY DEFINER, 0006), so EXECUTE on one would be a write.
--
-- NOLOGIN: grant it to a login role per consumer, e.g.
--   CREATE ROLE mission_calendar LOGIN PASSWORD '...' IN ROLE accord_reader;
-- (the embedded default makes `accord_feed`, store/feed_reader.py). Roles are cluster-wide,
-- so another database's migration, or an operator before migrating, may have made it;
-- creating it only when missing means an owner without CREATEROLE migrates fine then.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'accord_reader') THEN
        CREATE ROLE accord_reader NOLOGIN;
    END IF;
END
$$;

GRANT USAGE ON SCHEMA accord TO accord_reader;
GRANT SELECT ON accord.events TO accord_reader;
GRANT EXECUTE ON FUNCTION accord.feed_cursor(bigint) TO accord_reader;
GRANT EXECUTE ON FUNCTION accord.read_feed(bigint, integer) TO accord_reader;
GRANT EXECUTE ON FUNCTION accord.read_feed_data(bigint, integer) TO accord_reader;
