-- Read models, rebuildable at any time from accord.events (`accord projections rebuild`).
-- Unlike the events, these tables are disposable: they may be updated and truncated.
CREATE TABLE accord.process_view (
    stream_id       text        PRIMARY KEY,
    process_id      text        NOT NULL,
    stage           text        NOT NULL,
    version         integer     NOT NULL,
    pending_agencies text[]     NOT NULL DEFAULT '{}',
    view            jsonb       NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX process_view_stage ON accord.process_view (stage);
CREATE INDEX process_view_pending ON accord.process_view USING gin (pending_agencies);

CREATE TABLE accord.timeline (
    stream_id   text    NOT NULL,
    version     integer NOT NULL,
    position    bigint  NOT NULL,
    occurred_on date    NOT NULL,
    event_type  text    NOT NULL,
    actor       jsonb,
    summary     text    NOT NULL,
    PRIMARY KEY (stream_id, version)
);

GRANT SELECT, INSERT, UPDATE, DELETE ON accord.process_view, accord.timeline TO accord_app;
