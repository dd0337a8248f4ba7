-- Fleet health (SPEC 3.8, 6.10): see migrations/sqlite/20261130000005_fleet_health.sql.
CREATE TABLE highstate_runs (
    id            TEXT PRIMARY KEY,                 -- uuid v4
    minion_id     TEXT NOT NULL,
    jid           TEXT NOT NULL,
    fun           TEXT NOT NULL,
    started_at    TIMESTAMPTZ NOT NULL,             -- from the JID
    completed_at  TIMESTAMPTZ NOT NULL,             -- event time, else start + the states' durations
    pass_count    BIGINT NOT NULL DEFAULT 0,
    fail_count    BIGINT NOT NULL DEFAULT 0,
    change_count  BIGINT NOT NULL DEFAULT 0,
    total_count   BIGINT NOT NULL DEFAULT 0,
    duration_ms   DOUBLE PRECISION NOT NULL DEFAULT 0,
    blocked       BOOLEAN NOT NULL DEFAULT FALSE,
    render_error  BOOLEAN NOT NULL DEFAULT FALSE,
    raw_result    JSONB,
    ingested_at   TIMESTAMPTZ NOT NULL,
    source        TEXT NOT NULL DEFAULT 'job' CHECK (source IN ('job', 'event')),
    UNIQUE (minion_id, jid)
);
CREATE INDEX ix_highstate_runs_completed ON highstate_runs (completed_at);
CREATE INDEX ix_highstate_runs_minion ON highstate_runs (minion_id, completed_at);
CREATE INDEX ix_highstate_runs_jid ON highstate_runs (jid);

CREATE TABLE minion_latest_run (
    minion_id     TEXT PRIMARY KEY,
    run_id        TEXT NOT NULL REFERENCES highstate_runs (id) ON DELETE CASCADE,
    completed_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE highstate_failures (
    run_id     TEXT NOT NULL REFERENCES highstate_runs (id) ON DELETE CASCADE,
    minion_id  TEXT NOT NULL,
    state_id   TEXT NOT NULL,
    fun        TEXT NOT NULL,
    name       TEXT NOT NULL,
    comment    TEXT NOT NULL,
    run_num    BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, state_id, fun, name)
);
CREATE INDEX ix_highstate_failures_state ON highstate_failures (state_id, fun);

CREATE TABLE highstate_jobs (
    jid           TEXT PRIMARY KEY,
    fun           TEXT NOT NULL,
    started_at    TIMESTAMPTZ NOT NULL,
    completed_at  TIMESTAMPTZ NOT NULL,
    minions       BIGINT NOT NULL DEFAULT 0,
    passed        BIGINT NOT NULL DEFAULT 0,
    changed       BIGINT NOT NULL DEFAULT 0,
    failed        BIGINT NOT NULL DEFAULT 0,
    blocked       BIGINT NOT NULL DEFAULT 0,
    skipped       BIGINT NOT NULL DEFAULT 0,
    complete      BOOLEAN NOT NULL DEFAULT FALSE,
    ingested_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX ix_highstate_jobs_completed ON highstate_jobs (completed_at);

UPDATE app_settings
   SET jobs_poll_interval_seconds = 60,
       event_stream_enabled = TRUE,
       fleet_poll_interval_seconds = 120
 WHERE id = 1 AND salt_api_url IS NULL
   AND jobs_poll_interval_seconds = 0 AND NOT event_stream_enabled
   AND fleet_poll_interval_seconds = 0;
