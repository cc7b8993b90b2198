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

-- Append a batch to one stream in a single call (one network round trip).
--   AC001  expected_version is not the stream's version (DETAIL = actual version)
--   AC002  an event id is already recorded with other content (DETAIL = that event id)
--   AC003  malformed call (empty batch, arrays of different lengths)
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
-- Every lookup here is by unique key. plpgsql caches plans per connection; one planned while
-- the table was tiny (seq scan) would otherwise stick long after the table has grown.
SET enable_seqscan = off
AS $$
DECLARE
    n            integer := coalesce(cardinality(p_event_ids), 0);
    v_tx         xid8;
    v_known      boolean;
    v_found      integer;
    v_matching   integer;
    v_conflict   uuid;
    v_head       integer;
    v_prev       bytea;
    v_at         timestamptz;
    v_at_us      bigint;
    v_prevs      bytea[];
    v_hashes     bytea[];
BEGIN
    -- The arrays come from the Python client, built side by side from one list of events.
    IF n = 0 OR p_expected_version IS NULL OR p_expected_version < 0 THEN
        RAISE EXCEPTION 'append_events: empty batch or bad expected version'
            USING ERRCODE = 'AC003';
    END IF;

    -- Serialise appenders of this stream BEFORE taking an xid: whoever appends next to the
    -- same stream then gets a larger tx_id, so the feed delivers each stream in version
    -- order. Per-stream key, so writers of different streams never wait for each other.
    PERFORM pg_advisory_xact_lock(1094927172, hashtext(p_stream_id));

    -- One statement, with a snapshot taken after the lock was granted: the xid (drawn
    -- before any position, as the feed's ordering argument needs), whether any of these
    -- ids is already recorded, and the stream head. No FOR UPDATE: the advisory lock
    -- serialises appenders of this stream, and the head write below is guarded.
    SELECT pg_current_xact_id(),
           EXISTS (SELECT FROM accord.events e WHERE e.event_id = ANY (p_event_ids)),
           coalesce(s.version, 0),
           coalesce(s.head_hash, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea)
      INTO v_tx, v_known, v_head, v_prev
      FROM (SELECT) AS one LEFT JOIN accord.streams s ON s.stream_id = p_stream_id;

    -- Idempotent retry: every id already recorded here with the same content -> no-op.
    IF v_known THEN
        SELECT count(*),
               count(*) FILTER (WHERE e.stream_id = p_stream_id
                                  AND e.version = p_expected_version + b.ord
                                  AND e.content_digest = b.digest),
               array_agg(e.position ORDER BY b.ord),
               (array_agg(e.event_id ORDER BY b.ord) FILTER (
                    WHERE e.stream_id IS DISTINCT FROM p_stream_id
                       OR e.version IS DISTINCT FROM p_expected_version + b.ord
                       OR e.content_digest IS DISTINCT FROM b.digest))[1]
          INTO v_found, v_matching, positions, v_conflict
          FROM unnest(p_event_ids, p_digests) WITH ORDINALITY AS b(event_id, digest, ord)
          JOIN accord.events e ON e.event_id = b.event_id;
        IF v_found = n AND v_matching = n THEN
            first_version := p_expected_version + 1;
            last_version := p_expected_version + n;
            already_recorded := true;
            RETURN;
        END IF;
        RAISE EXCEPTION 'event id already recorded with other content'
            USING ERRCODE = 'AC002',
                  DETAIL = coalesce(v_conflict::text, '');
    END IF;

    IF v_head <> p_expected_version THEN
        RAISE EXCEPTION 'stream % is at version %, not %', p_stream_id, v_head, p_expected_version
            USING ERRCODE = 'AC001', DETAIL = v_head::text;
    END IF;

    -- Chain: hash_i = sha256(prev_hash || content_digest_i || position_i || recorded_at_us).
    v_at := clock_timestamp();
    v_at_us := (extract(epoch FROM v_at) * 1000000)::bigint;
    positions := '{}';
    FOR i IN 1 .. n LOOP
        positions[i] := nextval('accord.event_position_seq');
        v_prevs[i] := v_prev;
        v_prev := sha256(v_prev || p_digests[i] || int8send(positions[i]) || int8send(v_at_us));
        v_hashes[i] := v_prev;
    END LOOP;

    IF n = 1 THEN
        -- The common case; a plain VALUES row is cheaper than unnesting fourteen arrays.
        INSERT INTO accord.events (
            position, tx_id, event_id, stream_id, version, event_type, schema_version, data,
            actor, occurred_on, recorded_at, correlation_id, causation_id, workflow_id, run_id,
            content_digest, prev_hash, hash)
        VALUES (positions[1], v_tx, p_event_ids[1], p_stream_id, p_expected_version + 1,
                p_types[1], p_schema_versions[1], p_data[1], p_actors[1], p_occurred_on[1],
                v_at, p_correlation_ids[1], p_causation_ids[1], p_workflow_ids[1], p_run_ids[1],
                p_digests[1], v_prevs[1], v_hashes[1]);
    ELSE
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
    END IF;

    IF v_head = 0 THEN
        INSERT INTO accord.streams (stream_id, version, head_hash)
        VALUES (p_stream_id, n, v_prev)
        ON CONFLICT (stream_id) DO NOTHING;
    ELSE
        UPDATE accord.streams SET version = v_head + n, head_hash = v_prev
         WHERE stream_id = p_stream_id AND version = v_head;
    END IF;
    IF NOT FOUND THEN
        -- Someone wrote this head without taking the stream lock.
        SELECT s.version INTO v_head FROM accord.streams s WHERE s.stream_id = p_stream_id;
        RAISE EXCEPTION 'stream % moved concurrently to version %', p_stream_id, v_head
            USING ERRCODE = 'AC001', DETAIL = v_head::text;
    END IF;

    first_version := p_expected_version + 1;
    last_version := p_expected_version + n;
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
