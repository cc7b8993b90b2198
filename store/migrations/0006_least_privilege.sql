-- Least privilege (issue 12): the chain is written only by functions of the owner role.
--
-- Before this migration the application role could INSERT into accord.events and write
-- accord.streams directly, choosing tx_id, position and recorded_at itself: a correctly
-- chained "ghost" stream with an old tx_id passed `verify` and stayed behind every feed
-- reader's cursor. Now:
--   accord_owner   owns the schema and everything in it (runs the migrations);
--   accord_app     may read the log, and append only by calling the append functions,
--                  which run as accord_owner (SECURITY DEFINER, fixed search_path) and draw
--                  tx_id, position and recorded_at themselves;
--   login roles    (accord_service) are members of accord_app and nothing more.
-- The migration transfers ownership, so it must run as a superuser or as accord_owner
-- (store/roles.sql creates the roles; the embedded server does it by itself).

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'accord_owner') THEN
        CREATE ROLE accord_owner NOLOGIN;
    END IF;
END
$$;

-- The owner owns the schema, its tables (with the position sequence, OWNED BY events) and
-- its functions: SECURITY DEFINER functions run with their owner's rights, which must be
-- exactly the schema owner's, never a superuser's (whoever ran the earlier migrations).
ALTER SCHEMA accord OWNER TO accord_owner;
DO $$
DECLARE
    item record;
BEGIN
    FOR item IN
        SELECT c.oid::regclass AS name FROM pg_class c
         WHERE c.relnamespace = 'accord'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm')
    LOOP
        EXECUTE format('ALTER TABLE %s OWNER TO accord_owner', item.name);
    END LOOP;
    FOR item IN
        SELECT p.oid::regprocedure AS name FROM pg_proc p
         WHERE p.pronamespace = 'accord'::regnamespace
    LOOP
        EXECUTE format('ALTER ROUTINE %s OWNER TO accord_owner', item.name);
    END LOOP;
END
$$;

-- The rows that make the chain: readable, never writable directly.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER
    ON accord.events, accord.streams FROM accord_app, PUBLIC;
REVOKE ALL ON SEQUENCE accord.event_position_seq FROM accord_app, PUBLIC;
GRANT SELECT ON accord.events, accord.streams TO accord_app;
-- The read models are disposable: `accord projections rebuild` empties them first.
GRANT TRUNCATE ON accord.process_view, accord.timeline TO accord_app;

-- The three append functions, now SECURITY DEFINER with a fixed search_path (pg_catalog
-- first, pg_temp last: no object of the caller's can stand in for a built-in), and one more
-- check each: the rows must carry the transaction id that wrote them. Inside a savepoint
-- (a subtransaction) the row's xmin is the subtransaction's xid while pg_current_xact_id()
-- is the top-level one; `verify` compares the two (see store/verify.py), so such an append
-- is refused (AC006) rather than recorded as a row verify would flag. RETURNING xmin costs
-- nothing (the row is at hand).
CREATE OR REPLACE FUNCTION accord.append_event(
    p_stream_id        text,
    p_expected_version integer,
    p_event_id         uuid,
    p_type             text,
    p_schema_version   integer,
    p_data             jsonb,
    p_actor            jsonb,
    p_occurred_on      date,
    p_correlation_id   text,
    p_causation_id     text,
    p_workflow_id      text,
    p_run_id           text,
    p_digest           bytea
)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
AS $$
DECLARE
    v_position bigint;
    v_tx       xid8;
    v_row_xid  xid;
BEGIN
    IF p_expected_version = 0 THEN
        WITH t AS MATERIALIZED (
            SELECT pg_current_xact_id() AS tx, nextval('accord.event_position_seq') AS pos,
                   clock_timestamp() AS at
        ), h AS (
            INSERT INTO accord.streams AS s (stream_id, version, head_hash)
            SELECT p_stream_id, 1,
                   sha256('\x0000000000000000000000000000000000000000000000000000000000000000'::bytea
                          || p_digest || int8send(t.pos)
                          || int8send((extract(epoch FROM t.at) * 1000000)::bigint))
              FROM t
            ON CONFLICT (stream_id) DO NOTHING
            RETURNING s.head_hash AS hash
        )
        INSERT INTO accord.events (
            position, tx_id, event_id, stream_id, version, event_type, schema_version, data,
            actor, occurred_on, recorded_at, correlation_id, causation_id, workflow_id, run_id,
            content_digest, prev_hash, hash)
        SELECT t.pos, t.tx, p_event_id, p_stream_id, 1, p_type, p_schema_version, p_data,
               p_actor, p_occurred_on, t.at, p_correlation_id, p_causation_id, p_workflow_id,
               p_run_id, p_digest,
               '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea,
               h.hash
          FROM t, h
        RETURNING events.position, events.tx_id, events.xmin INTO v_position, v_tx, v_row_xid;
    ELSIF p_expected_version > 0 THEN
        WITH t AS MATERIALIZED (
            SELECT pg_current_xact_id() AS tx, nextval('accord.event_position_seq') AS pos,
                   clock_timestamp() AS at
        ), h AS (
            UPDATE accord.streams s
               SET version = p_expected_version + 1,
                   head_hash = sha256(s.head_hash || p_digest || int8send(t.pos)
                                      || int8send((extract(epoch FROM t.at) * 1000000)::bigint))
              FROM t
             WHERE s.stream_id = p_stream_id AND s.version = p_expected_version
            RETURNING t.tx, t.pos, t.at, old.head_hash AS prev, new.head_hash AS hash
        )
        INSERT INTO accord.events (
            position, tx_id, event_id, stream_id, version, event_type, schema_version, data,
            actor, occurred_on, recorded_at, correlation_id, causation_id, workflow_id, run_id,
            content_digest, prev_hash, hash)
        SELECT h.pos, h.tx, p_event_id, p_stream_id, p_expected_version + 1, p_type,
               p_schema_version, p_data, p_actor, p_occurred_on, h.at, p_correlation_id,
               p_causation_id, p_workflow_id, p_run_id, p_digest, h.prev, h.hash
          FROM h
        RETURNING events.position, events.tx_id, events.xmin INTO v_position, v_tx, v_row_xid;
    ELSE
        RAISE EXCEPTION 'append_event: bad expected version' USING ERRCODE = 'AC003';
    END IF;
    IF v_position IS NOT NULL THEN
        IF v_row_xid::text::bigint <> v_tx::text::bigint % 4294967296 THEN
            RAISE EXCEPTION 'an append cannot run inside a savepoint' USING ERRCODE = 'AC006',
                HINT = 'Append at the top level of its transaction.';
        END IF;
        RETURN v_position;
    END IF;
    RETURN -(accord.append_refused(p_stream_id, p_expected_version,
                                   ARRAY[p_event_id], ARRAY[p_digest]))[1];
END
$$;

CREATE OR REPLACE FUNCTION accord.append_events(
    p_stream_id        text,
    p_expected_version integer,
    p_event_ids        uuid[],
    p_types            text[],
    p_schema_versions  integer[],
    p_data             jsonb[],
    p_actors           jsonb[],
    p_occurred_on      date[],
    p_correlation_ids  text[],
    p_causation_ids    text[],
    p_workflow_ids     text[],
    p_run_ids          text[],
    p_digests          bytea[],
    OUT positions        bigint[],
    OUT first_version    integer,
    OUT last_version     integer,
    OUT already_recorded boolean
)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
AS $$
DECLARE
    n            integer := coalesce(cardinality(p_event_ids), 0);
    v_tx         xid8;
    v_prev       bytea := '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea;
    v_at         timestamptz;
    v_at_us      bigint;
    v_prevs      bytea[];
    v_hashes     bytea[];
    v_row_xid    bigint;
BEGIN
    -- Every array must have one entry per event: the function is callable by any member of
    -- accord_app, not only by the Python client that builds them side by side.
    IF n = 0 OR p_expected_version IS NULL OR p_expected_version < 0
       OR cardinality(p_digests) IS DISTINCT FROM n
       OR cardinality(p_types) IS DISTINCT FROM n
       OR cardinality(p_schema_versions) IS DISTINCT FROM n
       OR cardinality(p_data) IS DISTINCT FROM n
       OR cardinality(p_occurred_on) IS DISTINCT FROM n THEN
        RAISE EXCEPTION 'append_events: empty batch, bad expected version or ragged arrays'
            USING ERRCODE = 'AC003';
    END IF;

    first_version := p_expected_version + 1;
    last_version := p_expected_version + n;
    IF p_expected_version = 0 THEN
        v_tx := pg_current_xact_id();
    ELSE
        SELECT pg_current_xact_id(), s.head_hash INTO v_tx, v_prev
          FROM accord.streams s
         WHERE s.stream_id = p_stream_id AND s.version = p_expected_version
           FOR UPDATE;
        IF NOT FOUND THEN
            positions := accord.append_refused(p_stream_id, p_expected_version, p_event_ids,
                                               p_digests);
            already_recorded := true;
            RETURN;
        END IF;
    END IF;

    v_at := clock_timestamp();
    v_at_us := (extract(epoch FROM v_at) * 1000000)::bigint;
    positions := '{}';
    FOR i IN 1 .. n LOOP
        positions[i] := nextval('accord.event_position_seq');
        v_prevs[i] := v_prev;
        v_prev := sha256(v_prev || p_digests[i] || int8send(positions[i]) || int8send(v_at_us));
        v_hashes[i] := v_prev;
    END LOOP;

    IF p_expected_version = 0 THEN
        INSERT INTO accord.streams (stream_id, version, head_hash)
        VALUES (p_stream_id, n, v_prev)
        ON CONFLICT (stream_id) DO NOTHING;
        IF NOT FOUND THEN
            positions := accord.append_refused(p_stream_id, 0, p_event_ids, p_digests);
            already_recorded := true;
            RETURN;
        END IF;
    ELSE
        UPDATE accord.streams SET version = last_version, head_hash = v_prev
         WHERE stream_id = p_stream_id;
    END IF;

    WITH written AS (
        INSERT INTO accord.events (
            position, tx_id, event_id, stream_id, version, event_type, schema_version, data,
            actor, occurred_on, recorded_at, correlation_id, causation_id, workflow_id, run_id,
            content_digest, prev_hash, hash)
        SELECT b.position, v_tx, b.event_id, p_stream_id, p_expected_version + b.ord::integer,
               b.event_type, b.schema_version, b.data, b.actor, b.occurred_on, v_at,
               b.correlation_id, b.causation_id, b.workflow_id, b.run_id,
               b.digest, b.prev_hash, b.hash
          FROM unnest(positions, p_event_ids, p_types, p_schema_versions, p_data, p_actors,
                      p_occurred_on, p_correlation_ids, p_causation_ids, p_workflow_ids,
                      p_run_ids, p_digests, v_prevs, v_hashes)
               WITH ORDINALITY AS b(position, event_id, event_type, schema_version, data,
                                    actor, occurred_on, correlation_id, causation_id,
                                    workflow_id, run_id, digest, prev_hash, hash, ord)
        RETURNING xmin::text::bigint AS row_xid
    )
    SELECT max(row_xid) INTO v_row_xid FROM written;
    IF v_row_xid <> v_tx::text::bigint % 4294967296 THEN
        RAISE EXCEPTION 'an append cannot run inside a savepoint' USING ERRCODE = 'AC006',
            HINT = 'Append at the top level of its transaction.';
    END IF;
    already_recorded := false;
END
$$;

CREATE OR REPLACE FUNCTION accord.append_event_group(
    p_stream_ids        text[],
    p_expected_versions integer[],
    p_event_ids         uuid[],
    p_types             text[],
    p_schema_versions   integer[],
    p_data              jsonb[],
    p_actors            jsonb[],
    p_occurred_on       date[],
    p_correlation_ids   text[],
    p_causation_ids     text[],
    p_workflow_ids      text[],
    p_run_ids           text[],
    p_digests           bytea[]
)
RETURNS bigint[]
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
AS $$
DECLARE
    n         integer := coalesce(cardinality(p_stream_ids), 0);
    v_result  bigint[];
    v_zero    bytea := '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea;
    v_locked  integer[];
    v_heads   bytea[];
    v_fresh   integer[];
    v_tx      xid8;
    v_at      timestamptz;
    v_at_us   bigint;
    v_ords    integer[] := '{}';
    v_pos     bigint[] := '{}';
    v_prevs   bytea[] := '{}';
    v_hashes  bytea[] := '{}';
    v_hash    bytea;
    v_next    bigint;
    v_row_xid bigint;
    i         integer;
BEGIN
    IF n = 0 OR cardinality(p_expected_versions) IS DISTINCT FROM n
       OR cardinality(p_event_ids) IS DISTINCT FROM n OR cardinality(p_digests) IS DISTINCT FROM n
       OR cardinality(p_types) IS DISTINCT FROM n
       OR cardinality(p_schema_versions) IS DISTINCT FROM n
       OR cardinality(p_data) IS DISTINCT FROM n OR cardinality(p_occurred_on) IS DISTINCT FROM n
       OR (SELECT count(DISTINCT s) FROM unnest(p_stream_ids) AS s) <> n
       OR EXISTS (SELECT 1 FROM unnest(p_expected_versions) AS v WHERE v IS NULL OR v < 0) THEN
        RAISE EXCEPTION 'append_event_group: empty group, ragged arrays, a stream twice or a bad expected version'
            USING ERRCODE = 'AC003';
    END IF;
    v_result := array_fill(0::bigint, ARRAY[n]);

    -- As in 0005_append_group.sql: lock the existing heads at their expected versions in
    -- one statement that draws the xid after its snapshot; skip heads locked elsewhere.
    SELECT array_agg(x.ord ORDER BY x.ord), array_agg(x.head_hash ORDER BY x.ord),
           (array_agg(x.tx))[1]
      INTO v_locked, v_heads, v_tx
      FROM (SELECT b.ord::integer AS ord, s.head_hash, pg_current_xact_id() AS tx
              FROM unnest(p_stream_ids, p_expected_versions) WITH ORDINALITY
                   AS b(stream_id, expected, ord)
              JOIN accord.streams s ON s.stream_id = b.stream_id AND s.version = b.expected
             WHERE b.expected > 0
             ORDER BY s.stream_id
               FOR UPDATE OF s SKIP LOCKED) AS x;
    IF v_tx IS NULL THEN
        v_tx := pg_current_xact_id();
    END IF;
    v_at := clock_timestamp();
    v_at_us := (extract(epoch FROM v_at) * 1000000)::bigint;

    FOR k IN 1 .. coalesce(cardinality(v_locked), 0) LOOP
        i := v_locked[k];
        v_next := nextval('accord.event_position_seq');
        v_ords := v_ords || i;
        v_pos := v_pos || v_next;
        v_prevs := v_prevs || v_heads[k];
        v_hashes := v_hashes
                    || sha256(v_heads[k] || p_digests[i] || int8send(v_next) || int8send(v_at_us));
    END LOOP;
    IF cardinality(v_ords) > 0 THEN
        UPDATE accord.streams s
           SET version = p_expected_versions[u.ord] + 1, head_hash = u.hash
          FROM unnest(v_ords, v_hashes) AS u(ord, hash)
         WHERE s.stream_id = p_stream_ids[u.ord];
    END IF;

    SELECT array_agg(b.ord::integer ORDER BY b.stream_id)
      INTO v_fresh
      FROM unnest(p_stream_ids, p_expected_versions) WITH ORDINALITY AS b(stream_id, expected, ord)
     WHERE b.expected = 0;
    FOR k IN 1 .. coalesce(cardinality(v_fresh), 0) LOOP
        i := v_fresh[k];
        v_next := nextval('accord.event_position_seq');
        v_hash := sha256(v_zero || p_digests[i] || int8send(v_next) || int8send(v_at_us));
        INSERT INTO accord.streams (stream_id, version, head_hash)
        VALUES (p_stream_ids[i], 1, v_hash)
        ON CONFLICT (stream_id) DO NOTHING;
        IF FOUND THEN
            v_ords := v_ords || i;
            v_pos := v_pos || v_next;
            v_prevs := v_prevs || v_zero;
            v_hashes := v_hashes || v_hash;
        END IF;
    END LOOP;

    IF cardinality(v_ords) = 0 THEN
        RETURN v_result;
    END IF;
    WITH written AS (
        INSERT INTO accord.events (
            position, tx_id, event_id, stream_id, version, event_type, schema_version, data,
            actor, occurred_on, recorded_at, correlation_id, causation_id, workflow_id, run_id,
            content_digest, prev_hash, hash)
        SELECT u.pos, v_tx, p_event_ids[u.ord], p_stream_ids[u.ord],
               p_expected_versions[u.ord] + 1, p_types[u.ord], p_schema_versions[u.ord],
               p_data[u.ord], p_actors[u.ord], p_occurred_on[u.ord], v_at,
               p_correlation_ids[u.ord], p_causation_ids[u.ord], p_workflow_ids[u.ord],
               p_run_ids[u.ord], p_digests[u.ord], u.prev, u.hash
          FROM unnest(v_ords, v_pos, v_prevs, v_hashes) AS u(ord, pos, prev, hash)
        RETURNING xmin::text::bigint AS row_xid
    )
    SELECT max(row_xid) INTO v_row_xid FROM written;
    IF v_row_xid <> v_tx::text::bigint % 4294967296 THEN
        RAISE EXCEPTION 'an append cannot run inside a savepoint' USING ERRCODE = 'AC006',
            HINT = 'Append at the top level of its transaction.';
    END IF;
    FOR k IN 1 .. cardinality(v_ords) LOOP
        v_result[v_ords[k]] := v_pos[k];
    END LOOP;
    RETURN v_result;
END
$$;
