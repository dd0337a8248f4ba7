-- Replicas (issue 16): one heartbeat row per Halite process, written every few seconds by
-- src/server/cluster.rs; the leader is the one holding the Postgres advisory lock.
CREATE TABLE replicas (
    id            TEXT PRIMARY KEY,                 -- host:pid:random
    host          TEXT NOT NULL,
    started_at    TIMESTAMPTZ NOT NULL,
    heartbeat_at  TIMESTAMPTZ NOT NULL,
    is_leader     BOOLEAN NOT NULL DEFAULT FALSE,
    leader_since  TIMESTAMPTZ
);
