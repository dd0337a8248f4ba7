-- One row per minion known to the master, kept fresh by the keys/presence/grains pollers.
CREATE TABLE minion_snapshots (
    minion_id              TEXT PRIMARY KEY,
    key_status             TEXT NOT NULL CHECK (key_status IN ('accepted', 'pending', 'rejected', 'denied')),
    online                 BOOLEAN NOT NULL DEFAULT FALSE,
    status                 TEXT GENERATED ALWAYS AS (
                               CASE WHEN key_status = 'accepted'
                                    THEN CASE WHEN online THEN 'online' ELSE 'offline' END
                                    ELSE key_status END) STORED,
    primary_ip             TEXT,
    os                     TEXT,
    os_family              TEXT,
    osrelease              TEXT,
    kernel                 TEXT,
    kernelrelease          TEXT,
    virtual_type           TEXT,
    num_cpus               BIGINT,
    mem_total_mb           BIGINT,
    saltversion            TEXT,
    cpu_model              TEXT,
    grains                 JSONB,
    grains_hash            TEXT,
    search_text            TEXT GENERATED ALWAYS AS (
                               lower(minion_id || ' ' || coalesce(os, '') || ' ' || coalesce(osrelease, '') || ' ' || coalesce(primary_ip, ''))) STORED,
    keys_refreshed_at      TIMESTAMPTZ,
    presence_refreshed_at  TIMESTAMPTZ,
    grains_refreshed_at    TIMESTAMPTZ
);
CREATE INDEX ix_minions_status ON minion_snapshots (status, minion_id);
CREATE INDEX ix_minions_key_status ON minion_snapshots (key_status);
CREATE INDEX ix_minions_os ON minion_snapshots (os, minion_id);
CREATE INDEX ix_minions_ip ON minion_snapshots (primary_ip, minion_id);
-- Substring search (LIKE '%…%') uses a trigram index rather than a scan.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX ix_minions_search_trgm ON minion_snapshots USING gin (search_text gin_trgm_ops);
