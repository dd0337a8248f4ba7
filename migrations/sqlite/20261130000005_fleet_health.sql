-- Fleet health (SPEC 3.8, 6.10): one row per (minion, state job) ingested from the master's job
-- cache or a job.ret event. `raw_result` is the minion's return (JSON), kept for the latest run of
-- each minion and for recent runs; older runs keep only their counts (see fleet::ingest::prune).
CREATE TABLE highstate_runs (
    id            TEXT PRIMARY KEY,                 -- uuid v4
    minion_id     TEXT NOT NULL,
    jid           TEXT NOT NULL,
    fun           TEXT NOT NULL,
    started_at    TEXT NOT NULL,                    -- from the JID
    completed_at  TEXT NOT NULL,                    -- event time, else start + the states' durations
    pass_count    INTEGER NOT NULL DEFAULT 0,
    fail_count    INTEGER NOT NULL DEFAULT 0,
    change_count  INTEGER NOT NULL DEFAULT 0,       -- states with changes, and result null (test mode)
    total_count   INTEGER NOT NULL DEFAULT 0,
    duration_ms   REAL NOT NULL DEFAULT 0,
    blocked       BOOLEAN NOT NULL DEFAULT FALSE,   -- did not return / timed out: zero counts
    render_error  BOOLEAN NOT NULL DEFAULT FALSE,   -- Salt answered with render errors (failed)
    raw_result    TEXT,                             -- NULL: no longer kept, or too large
    ingested_at   TEXT NOT NULL,
    source        TEXT NOT NULL DEFAULT 'job' CHECK (source IN ('job', 'event')),
    UNIQUE (minion_id, jid)
);
CREATE INDEX ix_highstate_runs_completed ON highstate_runs (completed_at);
CREATE INDEX ix_highstate_runs_minion ON highstate_runs (minion_id, completed_at);
CREATE INDEX ix_highstate_runs_jid ON highstate_runs (jid);

-- Each minion's latest run (by completed_at): the fleet table is one join on this, not a
-- "newest row per minion" scan of highstate_runs.
CREATE TABLE minion_latest_run (
    minion_id     TEXT PRIMARY KEY,
    run_id        TEXT NOT NULL REFERENCES highstate_runs (id) ON DELETE CASCADE,
    completed_at  TEXT NOT NULL
);

-- The failing states of each ingested run (the top-failures panel and the "failing" filter).
CREATE TABLE highstate_failures (
    run_id     TEXT NOT NULL REFERENCES highstate_runs (id) ON DELETE CASCADE,
    minion_id  TEXT NOT NULL,
    state_id   TEXT NOT NULL,
    fun        TEXT NOT NULL,
    name       TEXT NOT NULL,
    comment    TEXT NOT NULL,
    run_num    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, state_id, fun, name)
);
CREATE INDEX ix_highstate_failures_state ON highstate_failures (state_id, fun);

-- One row per ingested state job, summed over its minions (the compliance chart, Timeline bars).
-- `complete` = every targeted minion has a row (returned or blocked); the poller revisits the
-- others until they are.
CREATE TABLE highstate_jobs (
    jid           TEXT PRIMARY KEY,
    fun           TEXT NOT NULL,
    started_at    TEXT NOT NULL,
    completed_at  TEXT NOT NULL,
    minions       INTEGER NOT NULL DEFAULT 0,
    passed        INTEGER NOT NULL DEFAULT 0,
    changed       INTEGER NOT NULL DEFAULT 0,
    failed        INTEGER NOT NULL DEFAULT 0,
    blocked       INTEGER NOT NULL DEFAULT 0,
    skipped       INTEGER NOT NULL DEFAULT 0,       -- returns that were not state returns
    complete      BOOLEAN NOT NULL DEFAULT FALSE,
    ingested_at   TEXT NOT NULL
);
CREATE INDEX ix_highstate_jobs_completed ON highstate_jobs (completed_at);

-- Defaults that show data (DECISIONS "Salt and the pollers"): an install whose Salt connection
-- was never saved and whose three pollers are still at SPEC's "off" gets the jobs poller (60 s),
-- the event stream and the fleet poller (120 s). Any install that saved its Salt settings, or
-- changed one of these three, keeps every poller setting it has.
UPDATE app_settings
   SET jobs_poll_interval_seconds = 60,
       event_stream_enabled = TRUE,
       fleet_poll_interval_seconds = 120
 WHERE id = 1 AND salt_api_url IS NULL
   AND jobs_poll_interval_seconds = 0 AND NOT event_stream_enabled
   AND fleet_poll_interval_seconds = 0;
