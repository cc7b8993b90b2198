-- The business date as written, and where a fact comes from (issue 17).
--
-- A business date has the precision its source gives (EDTF: a day 2022-04-04, a month
-- 2021-11, a year 2021, qualified with ~ ? %, or a range 2023-06-16/2025-03-10), so
-- `occurred_on` becomes text: the date as written, opaque to the store (1 to 64
-- characters). `source` is a JSON object naming where the fact is written, kept as given,
-- like `actor`. Both are in the content digest (store/digest.py; `source` only when there is
-- one, so every digest recorded so far stays what it is).
--
-- Events already recorded are NOT rewritten. `ALTER COLUMN ... TYPE text USING ...` would
-- rewrite every row, and a rewritten row carries the migrating transaction as its xmin:
-- `verify` compares each row's xmin with its tx_id (0006, store/verify.py) and would report
-- every event recorded so far as `tx mismatch`, the evidence that no row was written by hand
-- lost for good. Instead the `date` column is renamed `occurred_on_date` (a catalog change)
-- and keeps the day of the events recorded before this migration; `occurred_on` is a new
-- text column (no default: no row is touched), NULL on those rows and set on every row
-- written from now on. Readers take `coalesce(occurred_on, to_char(occurred_on_date,
-- 'YYYY-MM-DD'))`, the ISO text those events' digests were computed on: `accord.read_feed`
-- below, and the store's own reads (store/eventstore.py, OCCURRED_ON).
--
-- Run as accord_owner (or a superuser: every object made here is given to accord_owner, as
-- 0006 did), in one transaction like every migration. No UPDATE or DELETE touches
-- accord.events, so its append-only triggers stay as they are.

ALTER TABLE accord.events RENAME COLUMN occurred_on TO occurred_on_date;
ALTER TABLE accord.events ALTER COLUMN occurred_on_date DROP NOT NULL;
ALTER TABLE accord.events ADD COLUMN occurred_on text;
ALTER TABLE accord.events ADD COLUMN source jsonb;

-- The read model is disposable and rebuilt from the log: rewritten in place.
ALTER TABLE accord.timeline
    ALTER COLUMN occurred_on TYPE text USING to_char(occurred_on, 'YYYY-MM-DD');
ALTER TABLE accord.timeline ADD COLUMN source jsonb;

-- The append functions: the business date as text (checked: present, at most 64 characters,
-- since any member of accord_app may call them and every reader expects one; the batch and
-- group functions check the rows they wrote, in the aggregate they already make), and the
-- source as the last argument, NULL by default, so a client that passes no source calls
-- them with the arguments it always did. New signatures: the old ones are dropped, and
-- ownership, SECURITY DEFINER, search_path and grants are as 0006 and 0001/0002/0005 set
-- them. Otherwise the bodies are 0006's.
DROP FUNCTION accord.append_event(
    text, integer, uuid, text, integer, jsonb, jsonb, date, text, text, text, text, bytea);
DROP FUNCTION accord.append_events(
    text, integer, uuid[], text[], integer[], jsonb[], jsonb[], date[], text[], text[], text[],
    text[], bytea[]);
DROP FUNCTION accord.append_event_group(
    text[], integer[], uuid[], text[], integer[], jsonb[], jsonb[], date[], text[], text[],
    text[], text[], bytea[]);

CREATE FUNCTION accord.append_event(
    p_stream_id        text,
    p_expected_version integer,
    p_event_id         uuid,
    p_type             text,
    p_schema_version   integer,
    p_data             jsonb,
    p_actor            jsonb,
    p_occurred_on      text,
    p_correlation_id   text,
    p_causation_id     text,
    p_workflow_id      text,
    p_run_id           text,
    p_digest           bytea,
    p_source           jsonb DEFAULT NULL
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
    IF NOT coalesce(length(p_occurred_on) BETWEEN 1 AND 64, false) THEN
        RAISE EXCEPTION 'append_event: occurred_on must be 1 to 64 characters'
            USING ERRCODE = 'AC003';
    END IF;
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
            content_digest, prev_hash, hash, source)
        SELECT t.pos, t.tx, p_event_id, p_stream_id, 1, p_type, p_schema_version, p_data,
               p_actor, p_occurred_on, t.at, p_correlation_id, p_causation_id, p_workflow_id,
               p_run_id, p_digest,
               '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea,
               h.hash, p_source
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
            content_digest, prev_hash, hash, source)
        SELECT h.pos, h.tx, p_event_id, p_stream_id, p_expected_version + 1, p_type,
               p_schema_version, p_data, p_actor, p_occurred_on, h.at, p_correlation_id,
               p_causation_id, p_workflow_id, p_run_id, p_digest, h.prev, h.hash, p_source
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

CREATE FUNCTION accord.append_events(
    p_stream_id        text,
    p_expected_version integer,
    p_event_ids        uuid[],
    p_types            text[],
    p_schema_versions  integer[],
    p_data             jsonb[],
    p_actors           jsonb[],
    p_occurred_on      text[],
    p_correlation_ids  text[],
    p_causation_ids    text[],
    p_workflow_ids     text[],
    p_run_ids          text[],
    p_digests          bytea[],
    p_sources          jsonb[] DEFAULT NULL,
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
    v_shortest   integer;
    v_longest    integer;
BEGIN
    -- Every array must have one entry per event (the sources may be NULL: none at all): the
    -- function is callable by any member of accord_app, not only by the Python client that
    -- builds them side by side. The business dates are checked on the rows written, below.
    IF n = 0 OR p_expected_version IS NULL OR p_expected_version < 0
       OR cardinality(p_digests) IS DISTINCT FROM n
       OR cardinality(p_types) IS DISTINCT FROM n
       OR cardinality(p_schema_versions) IS DISTINCT FROM n
       OR cardinality(p_data) IS DISTINCT FROM n
       OR cardinality(p_occurred_on) IS DISTINCT FROM n
       OR (p_sources IS NOT NULL AND cardinality(p_sources) <> n) THEN
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

    -- unnest pads a NULL p_sources with NULLs.
    WITH written AS (
        INSERT INTO accord.events (
            position, tx_id, event_id, stream_id, version, event_type, schema_version, data,
            actor, occurred_on, recorded_at, correlation_id, causation_id, workflow_id, run_id,
            content_digest, prev_hash, hash, source)
        SELECT b.position, v_tx, b.event_id, p_stream_id, p_expected_version + b.ord::integer,
               b.event_type, b.schema_version, b.data, b.actor, b.occurred_on, v_at,
               b.correlation_id, b.causation_id, b.workflow_id, b.run_id,
               b.digest, b.prev_hash, b.hash, b.source
          FROM unnest(positions, p_event_ids, p_types, p_schema_versions, p_data, p_actors,
                      p_occurred_on, p_correlation_ids, p_causation_ids, p_workflow_ids,
                      p_run_ids, p_digests, v_prevs, v_hashes, p_sources)
               WITH ORDINALITY AS b(position, event_id, event_type, schema_version, data,
                                    actor, occurred_on, correlation_id, causation_id,
                                    workflow_id, run_id, digest, prev_hash, hash, source, ord)
        RETURNING xmin::text::bigint AS row_xid, coalesce(length(occurred_on), 0) AS date_length
    )
    SELECT max(row_xid), min(date_length), max(date_length)
      INTO v_row_xid, v_shortest, v_longest FROM written;
    -- Checked on the rows written (no second pass over the array; raising undoes the
    -- append): a business date is present and at most 64 characters.
    IF v_shortest < 1 OR v_longest > 64 THEN
        RAISE EXCEPTION 'append_events: occurred_on must be 1 to 64 characters'
            USING ERRCODE = 'AC003';
    END IF;
    IF v_row_xid <> v_tx::text::bigint % 4294967296 THEN
        RAISE EXCEPTION 'an append cannot run inside a savepoint' USING ERRCODE = 'AC006',
            HINT = 'Append at the top level of its transaction.';
    END IF;
    already_recorded := false;
END
$$;

CREATE FUNCTION accord.append_event_group(
    p_stream_ids        text[],
    p_expected_versions integer[],
    p_event_ids         uuid[],
    p_types             text[],
    p_schema_versions   integer[],
    p_data              jsonb[],
    p_actors            jsonb[],
    p_occurred_on       text[],
    p_correlation_ids   text[],
    p_causation_ids     text[],
    p_workflow_ids      text[],
    p_run_ids           text[],
    p_digests           bytea[],
    p_sources           jsonb[] DEFAULT NULL
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
    v_shortest integer;
    v_longest  integer;
    i         integer;
BEGIN
    IF n = 0 OR cardinality(p_expected_versions) IS DISTINCT FROM n
       OR cardinality(p_event_ids) IS DISTINCT FROM n OR cardinality(p_digests) IS DISTINCT FROM n
       OR cardinality(p_types) IS DISTINCT FROM n
       OR cardinality(p_schema_versions) IS DISTINCT FROM n
       OR cardinality(p_data) IS DISTINCT FROM n OR cardinality(p_occurred_on) IS DISTINCT FROM n
       OR (p_sources IS NOT NULL AND cardinality(p_sources) <> n)
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
    -- p_sources[...] of a NULL p_sources is NULL.
    WITH written AS (
        INSERT INTO accord.events (
            position, tx_id, event_id, stream_id, version, event_type, schema_version, data,
            actor, occurred_on, recorded_at, correlation_id, causation_id, workflow_id, run_id,
            content_digest, prev_hash, hash, source)
        SELECT u.pos, v_tx, p_event_ids[u.ord], p_stream_ids[u.ord],
               p_expected_versions[u.ord] + 1, p_types[u.ord], p_schema_versions[u.ord],
               p_data[u.ord], p_actors[u.ord], p_occurred_on[u.ord], v_at,
               p_correlation_ids[u.ord], p_causation_ids[u.ord], p_workflow_ids[u.ord],
               p_run_ids[u.ord], p_digests[u.ord], u.prev, u.hash, p_sources[u.ord]
          FROM unnest(v_ords, v_pos, v_prevs, v_hashes) AS u(ord, pos, prev, hash)
        RETURNING xmin::text::bigint AS row_xid, coalesce(length(occurred_on), 0) AS date_length
    )
    SELECT max(row_xid), min(date_length), max(date_length)
      INTO v_row_xid, v_shortest, v_longest FROM written;
    -- As in append_events: the business dates, on the rows written. Raising undoes the
    -- group; the client then replays each item alone, and only the bad one is refused.
    IF v_shortest < 1 OR v_longest > 64 THEN
        RAISE EXCEPTION 'append_event_group: occurred_on must be 1 to 64 characters'
            USING ERRCODE = 'AC003';
    END IF;
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

-- The feed returns the business date as text, whichever column holds it, and the source:
-- the columns it returned before (as text where the date was), in the same order, then
-- `source`. It no longer returns `SETOF accord.events`, whose rows now also hold the
-- legacy `occurred_on_date`. Same order, cut-off and settings as 0001's.
DROP FUNCTION accord.read_feed(bigint, integer);
CREATE FUNCTION accord.read_feed(p_after bigint, p_limit integer)
RETURNS TABLE ("position" bigint, tx_id xid8, event_id uuid, stream_id text, version integer,
               event_type text, schema_version integer, data jsonb, actor jsonb,
               occurred_on text, recorded_at timestamptz, correlation_id text,
               causation_id text, workflow_id text, run_id text, content_digest bytea,
               prev_hash bytea, hash bytea, source jsonb)
LANGUAGE sql STABLE
SET enable_seqscan = off
SET enable_bitmapscan = off
SET enable_sort = off
AS $$
    SELECT e.position, e.tx_id, e.event_id, e.stream_id, e.version, e.event_type,
           e.schema_version, e.data, e.actor,
           coalesce(e.occurred_on, to_char(e.occurred_on_date, 'YYYY-MM-DD')),
           e.recorded_at, e.correlation_id, e.causation_id, e.workflow_id, e.run_id,
           e.content_digest, e.prev_hash, e.hash, e.source
      FROM accord.events e
     WHERE (e.tx_id, e.position) > ((SELECT accord.feed_cursor(p_after)), p_after)
       AND e.tx_id < (SELECT pg_snapshot_xmin(pg_current_snapshot()))
     ORDER BY e.tx_id, e.position
     LIMIT p_limit
$$;

-- Owned by the schema owner whoever migrates (SECURITY DEFINER functions run with their
-- owner's rights), callable by the application role only (and the feed by the reader).
ALTER FUNCTION accord.append_event(
    text, integer, uuid, text, integer, jsonb, jsonb, text, text, text, text, text, bytea, jsonb)
    OWNER TO accord_owner;
ALTER FUNCTION accord.append_events(
    text, integer, uuid[], text[], integer[], jsonb[], jsonb[], text[], text[], text[], text[],
    text[], bytea[], jsonb[]) OWNER TO accord_owner;
ALTER FUNCTION accord.append_event_group(
    text[], integer[], uuid[], text[], integer[], jsonb[], jsonb[], text[], text[], text[],
    text[], text[], bytea[], jsonb[]) OWNER TO accord_owner;
ALTER FUNCTION accord.read_feed(bigint, integer) OWNER TO accord_owner;

REVOKE ALL ON FUNCTION accord.append_event(
    text, integer, uuid, text, integer, jsonb, jsonb, text, text, text, text, text, bytea, jsonb)
    FROM PUBLIC;
REVOKE ALL ON FUNCTION accord.append_events(
    text, integer, uuid[], text[], integer[], jsonb[], jsonb[], text[], text[], text[], text[],
    text[], bytea[], jsonb[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION accord.append_event_group(
    text[], integer[], uuid[], text[], integer[], jsonb[], jsonb[], text[], text[], text[],
    text[], text[], bytea[], jsonb[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION accord.read_feed(bigint, integer) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION accord.append_event(
    text, integer, uuid, text, integer, jsonb, jsonb, text, text, text, text, text, bytea, jsonb)
    TO accord_app;
GRANT EXECUTE ON FUNCTION accord.append_events(
    text, integer, uuid[], text[], integer[], jsonb[], jsonb[], text[], text[], text[], text[],
    text[], bytea[], jsonb[]) TO accord_app;
GRANT EXECUTE ON FUNCTION accord.append_event_group(
    text[], integer[], uuid[], text[], integer[], jsonb[], jsonb[], text[], text[], text[],
    text[], text[], bytea[], jsonb[]) TO accord_app;
GRANT EXECUTE ON FUNCTION accord.read_feed(bigint, integer) TO accord_app, accord_reader;
