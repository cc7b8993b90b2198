-- Group commit: single-event appends to distinct streams, written in one transaction.
--
-- EventStore gathers the single-event appends that arrive while others are being written and
-- sends them here together: one round trip, one transaction, one WAL flush for the lot. Each
-- item keeps its own optimistic-concurrency check: an item whose stream is not at its
-- expected version, or whose head another transaction holds locked right now (the group
-- never waits on a head), is simply not written (0 in the result) and the others are; the
-- client then replays that item alone through append_event, which waits for the lock if it
-- must and tells an idempotent retry from a conflict. Any error aborts the whole group
-- (nothing written) and the client replays every item alone, so one bad event never fails
-- the others.
--
-- Returns, per item in argument order, the new event's position, or 0 if it was not written.
-- The stream ids must be distinct (the client never groups two appends of one stream).
CREATE FUNCTION accord.append_event_group(
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
    i         integer;
BEGIN
    IF n = 0 OR cardinality(p_expected_versions) IS DISTINCT FROM n
       OR cardinality(p_event_ids) IS DISTINCT FROM n OR cardinality(p_digests) IS DISTINCT FROM n
       OR (SELECT count(DISTINCT s) FROM unnest(p_stream_ids) AS s) <> n
       OR EXISTS (SELECT 1 FROM unnest(p_expected_versions) AS v WHERE v IS NULL OR v < 0) THEN
        RAISE EXCEPTION 'append_event_group: empty group, ragged arrays, a stream twice or a bad expected version'
            USING ERRCODE = 'AC003';
    END IF;
    v_result := array_fill(0::bigint, ARRAY[n]);

    -- Existing streams: lock each head at its expected version in ONE statement whose target
    -- list draws the xid after the statement's snapshot. That is the single-stream argument
    -- of store/README.md for all of them at once: whatever append a head shows here
    -- committed before this snapshot, so it drew its xid before ours, and each stream stays
    -- in version order in the feed. A head that moved since the snapshot fails the re-check
    -- and is left out; a head locked by another transaction is skipped, not waited for.
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
        v_tx := pg_current_xact_id();  -- only new streams (or nothing) to write
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

    -- New streams: inserting the head row is the guard (a concurrent creator of the same
    -- stream makes this wait, then do nothing), in stream order. That wait is the one a
    -- group can still have; two groups creating each other's streams in opposite orders
    -- deadlock, PostgreSQL aborts one after deadlock_timeout, and its items are replayed
    -- alone.
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
    INSERT INTO accord.events (
        position, tx_id, event_id, stream_id, version, event_type, schema_version, data,
        actor, occurred_on, recorded_at, correlation_id, causation_id, workflow_id, run_id,
        content_digest, prev_hash, hash)
    SELECT u.pos, v_tx, p_event_ids[u.ord], p_stream_ids[u.ord],
           p_expected_versions[u.ord] + 1, p_types[u.ord], p_schema_versions[u.ord],
           p_data[u.ord], p_actors[u.ord], p_occurred_on[u.ord], v_at,
           p_correlation_ids[u.ord], p_causation_ids[u.ord], p_workflow_ids[u.ord],
           p_run_ids[u.ord], p_digests[u.ord], u.prev, u.hash
      FROM unnest(v_ords, v_pos, v_prevs, v_hashes) AS u(ord, pos, prev, hash);
    FOR k IN 1 .. cardinality(v_ords) LOOP
        v_result[v_ords[k]] := v_pos[k];
    END LOOP;
    RETURN v_result;
END
$$;

REVOKE ALL ON FUNCTION accord.append_event_group(
    text[], integer[], uuid[], text[], integer[], jsonb[], jsonb[], date[], text[], text[],
    text[], text[], bytea[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION accord.append_event_group(
    text[], integer[], uuid[], text[], integer[], jsonb[], jsonb[], date[], text[], text[],
    text[], text[], bytea[]) TO accord_app;
