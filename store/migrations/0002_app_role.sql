-- The application role: may record and read history, never rewrite it.
-- NOLOGIN: grant it to a login role, e.g.
--   CREATE ROLE accord_service LOGIN PASSWORD '...' IN ROLE accord_app;
-- Roles are cluster-wide, so another database's migration may have created it already.
DO $$
BEGIN
    CREATE ROLE accord_app NOLOGIN;
EXCEPTION
    WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;

GRANT USAGE ON SCHEMA accord TO accord_app;
GRANT SELECT, INSERT ON accord.events TO accord_app;
GRANT SELECT, INSERT, UPDATE ON accord.streams TO accord_app;
GRANT USAGE ON SEQUENCE accord.event_position_seq TO accord_app;
GRANT SELECT ON accord.schema_migrations TO accord_app;

-- Functions run with the caller's rights (SECURITY INVOKER), so the grants above are what
-- bounds the app role; only it (and the owner) may call them.
REVOKE ALL ON FUNCTION accord.append_events(
    text, integer, uuid[], text[], integer[], jsonb[], jsonb[], date[], text[], text[], text[],
    text[], bytea[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION accord.feed_cursor(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION accord.read_feed(bigint, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION accord.append_events(
    text, integer, uuid[], text[], integer[], jsonb[], jsonb[], date[], text[], text[], text[],
    text[], bytea[]) TO accord_app;
GRANT EXECUTE ON FUNCTION accord.feed_cursor(bigint) TO accord_app;
GRANT EXECUTE ON FUNCTION accord.read_feed(bigint, integer) TO accord_app;
