-- The event log of record: append-only events, per-stream heads, one-round-trip append.

CREATE SCHEMA IF NOT EXISTS accord;

-- Positions come from a sequence: unique, increasing in draw order, with gaps where an
-- append rolled back. They are NOT commit order; the feed orders by tx_id (see README).
CREATE SEQUENCE accord.event_position_seq AS bigint;

-- No CHECK constraints: the executor re-parses each one on every INSERT statement, which
-- doubled the cost of an append. append_events guarantees the invariants; verify checks them.
CREATE TABLE accord.events (
    position        bigint      NOT NULL DEFAULT nextval('accord.event_position_seq'),
    tx_id           xid8        NOT NULL DEFAULT pg_current_xact_id(),
    event_id        uuid        NOT NULL,
    stream_id       text        NOT NULL,
    version         integer     NOT NULL,
    event_type      text        NOT NULL,
    schema_version  integer     NOT NULL,
    data            jsonb       NOT NULL,
    actor           jsonb,
    occurred_on     date        NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    correlation_id  text,
    causation_id    text,
    workflow_id     text,
    run_id          text,
    content_digest  bytea       NOT NULL,
    prev_hash       bytea       NOT NULL,
    hash            bytea       NOT NULL,
    CONSTRAINT events_pkey PRIMARY KEY (position),
    CONSTRAINT events_event_id_key UNIQUE (event_id),
    CONSTRAINT events_stream_version_key UNIQUE (stream_id, version)
);
ALTER SEQUENCE accord.event_position_seq OWNED BY accord.events.position;

-- The catch-up feed reads in (tx_id, position) order.
CREATE INDEX events_feed_idx ON accord.events (tx_id, position);

-- One row per stream: the head the next append must name as its expected version.
CREATE TABLE accord.streams (
    stream_id  text    NOT NULL PRIMARY KEY,
    version    integer NOT NULL,
    head_hash  bytea   NOT NULL
);

-- The database itself refuses to rewrite history, whoever asks (superusers included,
-- unless they deliberately disable the trigger -- which `verify` then detects).
CREATE FUNCTION accord.refuse_history_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'accord.events is append-only: % refused', TG_OP
        USING ERRCODE = 'AC004',
              HINT = 'Record a compensating event instead.';
END
$$;

CREATE TRIGGER events_append_only
    BEFORE UPDATE OR DELETE ON accord.events
    FOR EACH STATEMENT EXECUTE FUNCTION accord.refuse_history_change();

CREATE TRIGGER events_no_truncate
    BEFORE TRUNCATE ON accord.events
    FOR EACH STATEMENT EXECUTE FUNCTION accord.refuse_history_change();

-- How appenders of one stream are serialised, and why the feed then delivers each stream in
-- version order: every append changes its stream's head row in `accord.streams` (an INSERT
-- for a new stream, otherwise an UPDATE or SELECT ... FOR UPDATE guarded by the expected
-- version) in a statement that also draws the transaction's xid. Under READ COMMITTED that
-- statement only succeeds if its snapshot already shows the head at the expected version
-- and nobody changed it since (a concurrent change of the row makes the guard fail on
-- re-check): so the previous append of the stream committed before the snapshot, hence
-- before the xid was drawn, and has a smaller xid. Writers of different streams touch
-- different rows and never wait for each other. (This holds when the append's transaction
-- has no xid yet, as with `EventStore.append`; an append inside a transaction that already
-- wrote something keeps that older xid.)
--
-- A refused append (head not at the expected version) is diagnosed here, in a new
-- snapshot: an idempotent retry returns the recorded positions, otherwise AC002 or AC001.
--   AC001  expected_version is not the stream's version (DETAIL = actual version)
--   AC002  an event id is already recorded with other content (DETAIL = that event id)
--   AC003  malformed call (empty batch, arrays of different lengths)
-- An event id recorded elsewhere while the head check passes fails on the unique index
-- events_event_id_key (23505): no retry can pass the head check, so that is always AC002's
-- case; the client reports it as IdempotencyConflict.
CREATE FUNCTION accord.append_refused(
    p_stream_id        text,
    p_expected_version integer,
    p_event_ids        uuid[],
    p_digests          bytea[],
    OUT positions      bigint[]
)
LANGUAGE plpgsql
SET enable_seqscan = off
AS $$
DECLARE
    n          integer := cardinality(p_event_ids);
    v_found    integer;
    v_matching integer;
    v_conflict uuid;
    v_head     integer;
BEGIN
    SELECT count(*),
           count(*) FILTER (WHERE e.stream_id = p_stream_id
                              AND e.version = p_expected_version + b.ord
                              AND e.content_digest = b.digest),
           array_agg(e.position ORDER BY b.ord),
           coalesce((array_agg(e.event_id ORDER BY b.ord) FILTER (
                        WHERE e.stream_id IS DISTINCT FROM p_stream_id
                           OR e.version IS DISTINCT FROM p_expected_version + b.ord
                           OR e.content_digest IS DISTINCT FROM b.digest))[1],
                    (array_agg(e.event_id ORDER BY b.ord))[1])
      INTO v_found, v_matching, positions, v_conflict
      FROM unnest(p_event_ids, p_digests) WITH ORDINALITY AS b(event_id, digest, ord)
      JOIN accord.events e ON e.event_id = b.event_id;
    IF v_found = n AND v_matching = n THEN
        RETURN;  -- idempotent retry: every id recorded here, same versions, same content
    END IF;
    IF v_found > 0 THEN
        RAISE EXCEPTION 'event id already recorded with other content'
            USING ERRCODE = 'AC002', DETAIL = v_conflict::text;
    END IF;
    v_head := coalesce((SELECT s.version FROM accord.streams s WHERE s.stream_id = p_stream_id), 0);
    -- v_head can equal the expected version when the stream reached it after this append's
    -- snapshot (the caller knew of an append that had not committed yet): still a conflict,
    -- since this transaction's xid is older than that append's; retrying succeeds.
    RAISE EXCEPTION 'stream % is at version %, not %', p_stream_id, v_head, p_expected_version
        USING ERRCODE = 'AC001', DETAIL = v_head::text;
END
$$;

-- Append one event: one statement in the common case. The CTE `t` draws the xid first, then
-- the position and the time (chain: hash = sha256(prev_hash || content_digest || position ||
-- recorded_at µs)); the head row's write is the guard and the lock; the event row follows.
-- Returns the event's position, or its negation when the event was already recorded (an
-- idempotent retry: nothing written). A plain bigint rather than OUT columns: the caller then
-- needs no function scan and tuplestore, ~10 µs of the server's time per append.
CREATE FUNCTION accord.append_event(
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
-- Every lookup here is by unique key. plpgsql caches plans per connection; one planned while
-- the table was tiny (seq scan) would otherwise stick long after the table has grown.
SET enable_seqscan = off
AS $$
DECLARE
    v_position bigint;
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
        RETURNING events.position INTO v_position;
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
        RETURNING events.position INTO v_position;
    ELSE
        RAISE EXCEPTION 'append_event: bad expected version' USING ERRCODE = 'AC003';
    END IF;
    IF v_position IS NOT NULL THEN
        RETURN v_position;
    END IF;
    RETURN -(accord.append_refused(p_stream_id, p_expected_version,
                                   ARRAY[p_event_id], ARRAY[p_digest]))[1];
END
$$;

-- Append a batch to one stream in a single call (one network round trip).
CREATE FUNCTION accord.append_events(
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
BEGIN
    -- The arrays come from the Python client, built side by side from one list of events.
    IF n = 0 OR p_expected_version IS NULL OR p_expected_version < 0
       OR cardinality(p_digests) IS DISTINCT FROM n THEN
        RAISE EXCEPTION 'append_events: empty batch, bad expected version or ragged arrays'
            USING ERRCODE = 'AC003';
    END IF;

    first_version := p_expected_version + 1;
    last_version := p_expected_version + n;
    IF p_expected_version = 0 THEN
        -- A new stream: its head row is inserted below, with the last hash (the insert is
        -- the guard: a concurrent creator makes it wait, then do nothing).
        v_tx := pg_current_xact_id();
    ELSE
        -- Lock the head at the expected version, drawing the xid in the same statement.
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
                                workflow_id, run_id, digest, prev_hash, hash, ord);
    already_recorded := false;
END
$$;

-- Resolve a public checkpoint (an event position) to its place in feed order.
CREATE FUNCTION accord.feed_cursor(p_position bigint) RETURNS xid8
LANGUAGE plpgsql STABLE
SET enable_seqscan = off
AS $$
DECLARE
    v_tx xid8;
BEGIN
    IF p_position = 0 THEN
        RETURN '0'::xid8;
    END IF;
    SELECT e.tx_id INTO v_tx FROM accord.events e WHERE e.position = p_position;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown feed checkpoint: no event at position %', p_position
            USING ERRCODE = 'AC005';
    END IF;
    RETURN v_tx;
END
$$;

-- The catch-up feed: the next events after a checkpoint, in (tx_id, position) order, from
-- finished transactions only. Every transaction with an xid below the snapshot's xmin has
-- ended, and any transaction still running or yet to start has an xid >= xmin, so nothing
-- can later commit behind the cursor (see store/README.md). The plan must walk
-- events_feed_idx in order and stop at the limit; with stale statistics the planner may
-- prefer a bitmap scan and a sort of everything after the cursor, hence the settings.
CREATE FUNCTION accord.read_feed(p_after bigint, p_limit integer)
RETURNS SETOF accord.events
LANGUAGE sql STABLE
SET enable_seqscan = off
SET enable_bitmapscan = off
SET enable_sort = off
AS $$
    SELECT e.*
      FROM accord.events e
     WHERE (e.tx_id, e.position) > ((SELECT accord.feed_cursor(p_after)), p_after)
       AND e.tx_id < (SELECT pg_snapshot_xmin(pg_current_snapshot()))
     ORDER BY e.tx_id, e.position
     LIMIT p_limit
$$;

-- The feed's narrow form for rebuilding read models: only what a fold needs, `data` as JSON
-- text (decoded by the caller straight into its own types). Same order and cut-off as
-- read_feed.
CREATE FUNCTION accord.read_feed_data(p_after bigint, p_limit integer)
RETURNS TABLE ("position" bigint, stream_id text, version integer, event_type text,
               schema_version integer, data text)
LANGUAGE sql STABLE
SET enable_seqscan = off
SET enable_bitmapscan = off
SET enable_sort = off
AS $$
    SELECT e.position, e.stream_id, e.version, e.event_type, e.schema_version, e.data::text
      FROM accord.events e
     WHERE (e.tx_id, e.position) > ((SELECT accord.feed_cursor(p_after)), p_after)
       AND e.tx_id < (SELECT pg_snapshot_xmin(pg_current_snapshot()))
     ORDER BY e.tx_id, e.position
     LIMIT p_limit
$$;

-- Execute rights of the functions added after 0002_app_role.sql was written (which grants
-- the others): only the application role may call them. The role is cluster-wide and may
-- exist already; 0002 tolerates that too.
DO $$
BEGIN
    CREATE ROLE accord_app NOLOGIN;
EXCEPTION
    WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;
REVOKE ALL ON FUNCTION accord.append_event(
    text, integer, uuid, text, integer, jsonb, jsonb, date, text, text, text, text, bytea)
    FROM PUBLIC;
REVOKE ALL ON FUNCTION accord.append_refused(text, integer, uuid[], bytea[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION accord.read_feed_data(bigint, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION accord.append_event(
    text, integer, uuid, text, integer, jsonb, jsonb, date, text, text, text, text, bytea)
    TO accord_app;
GRANT EXECUTE ON FUNCTION accord.append_refused(text, integer, uuid[], bytea[]) TO accord_app;
GRANT EXECUTE ON FUNCTION accord.read_feed_data(bigint, integer) TO accord_app;
