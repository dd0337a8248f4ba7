-- Jobs index (SPEC 3.7), command templates (SPEC 3.10), jobs retention setting (DECISIONS).
CREATE TABLE jobs_index (
    jid          TEXT PRIMARY KEY CHECK (length(jid) BETWEEN 1 AND 64),
    function     TEXT NOT NULL CHECK (length(function) <= 128),
    target       TEXT CHECK (target IS NULL OR length(target) <= 2048),
    target_type  TEXT,
    salt_user    TEXT,
    started_at   TIMESTAMPTZ NOT NULL,       -- parsed from the JID (UTC)
    seen_at      TIMESTAMPTZ NOT NULL,       -- last time the poller or the event stream saw it
    arguments    JSONB,                      -- JSON list as Salt reports it
    is_system    BOOLEAN GENERATED ALWAYS AS (
                     function LIKE 'runner.%' OR function LIKE 'wheel.%' OR function LIKE 'manage.%'
                     OR function IN ('saltutil.find_job', 'saltutil.running', 'sys.list_functions')) STORED,
    search_text  TEXT GENERATED ALWAYS AS (
                     lower(jid || ' ' || function || ' ' || coalesce(target, '') || ' ' || coalesce(salt_user, ''))) STORED
);
CREATE INDEX ix_jobs_started ON jobs_index (started_at);
CREATE INDEX ix_jobs_system_started ON jobs_index (is_system, started_at);
CREATE INDEX ix_jobs_function_started ON jobs_index (function, started_at);
CREATE INDEX ix_jobs_search_trgm ON jobs_index USING gin (search_text gin_trgm_ops);

CREATE TABLE command_templates (
    id             TEXT PRIMARY KEY,
    owner_user_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name           TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    name_lower     TEXT NOT NULL,
    description    TEXT NOT NULL DEFAULT '' CHECK (length(description) <= 500),
    target         TEXT NOT NULL CHECK (length(target) BETWEEN 1 AND 1024),
    target_type    TEXT NOT NULL DEFAULT 'glob',
    fun            TEXT NOT NULL CHECK (length(fun) BETWEEN 1 AND 128),
    args           JSONB NOT NULL DEFAULT '[]',
    kwargs         JSONB NOT NULL DEFAULT '{}',
    is_shared      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    UNIQUE (owner_user_id, name_lower)
);
CREATE INDEX ix_templates_shared ON command_templates (is_shared);

ALTER TABLE app_settings ADD COLUMN jobs_retention_days BIGINT NOT NULL DEFAULT 90;
