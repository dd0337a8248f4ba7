-- Issue 17: the minions list reads narrow rows (see the SQLite twin).
CREATE TABLE minion_grains (
    minion_id  TEXT PRIMARY KEY REFERENCES minion_snapshots (minion_id) ON DELETE CASCADE,
    grains     JSONB NOT NULL
);
INSERT INTO minion_grains (minion_id, grains)
    SELECT minion_id, grains FROM minion_snapshots WHERE grains IS NOT NULL;
ALTER TABLE minion_snapshots DROP COLUMN grains;

-- No maintained counts here (SQLite has them): with concurrent writers (the keys and presence
-- pollers, the event consumer) counter rows locked in different orders can deadlock. Postgres
-- keeps counting with COUNT(*).
