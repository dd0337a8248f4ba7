-- Activity feed from the Salt event bus (SPEC 3.11).
CREATE TABLE activity_events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    ts           TEXT NOT NULL,
    category     TEXT NOT NULL CHECK (category IN ('job', 'key', 'minion', 'system')),
    event_type   TEXT NOT NULL,
    minion_id    TEXT,
    jid          TEXT,
    fun          TEXT,
    success      BOOLEAN,
    changed      BOOLEAN,
    initiator    TEXT CHECK (initiator IS NULL OR length(initiator) <= 255),
    target       TEXT CHECK (target IS NULL OR length(target) <= 2048),
    duration_ms  INTEGER,
    summary      TEXT NOT NULL DEFAULT '' CHECK (length(summary) <= 512),
    raw          TEXT,
    search_text  TEXT GENERATED ALWAYS AS (
                     lower(summary || ' ' || coalesce(minion_id, '') || ' ' || coalesce(fun, '') || ' ' ||
                           coalesce(initiator, '') || ' ' || coalesce(target, '') || ' ' || coalesce(jid, ''))) STORED
);
CREATE INDEX ix_activity_ts ON activity_events (ts);
CREATE INDEX ix_activity_category_ts ON activity_events (category, ts);
CREATE INDEX ix_activity_minion_ts ON activity_events (minion_id, ts);
CREATE INDEX ix_activity_jid ON activity_events (jid);
