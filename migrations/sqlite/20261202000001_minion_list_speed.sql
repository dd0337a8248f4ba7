-- Issue 17: the minions list reads narrow rows and a maintained count.
--
-- 1. The raw grains document (~5 KB a minion) moves out of minion_snapshots into a table of its
--    own. A list scan, a count, and the keys/presence pollers' refresh stamps used to read and
--    rewrite every row's grains; now they touch ~200-byte rows. Only the detail page reads grains.
CREATE TABLE minion_grains (
    minion_id  TEXT PRIMARY KEY REFERENCES minion_snapshots (minion_id) ON DELETE CASCADE,
    grains     TEXT NOT NULL
);
INSERT INTO minion_grains (minion_id, grains)
    SELECT minion_id, grains FROM minion_snapshots WHERE grains IS NOT NULL;
ALTER TABLE minion_snapshots DROP COLUMN grains;

-- 2. How many minions are in each status, kept by triggers, so an unfiltered page does not
--    count the table again (a search or a per-resource role still counts what it matches).
CREATE TABLE minion_status_counts (
    status  TEXT PRIMARY KEY,
    n       INTEGER NOT NULL
);
INSERT INTO minion_status_counts (status, n)
    SELECT s.status, (SELECT COUNT(*) FROM minion_snapshots m WHERE m.status = s.status)
    FROM (SELECT 'online' AS status UNION ALL SELECT 'offline' UNION ALL SELECT 'pending'
          UNION ALL SELECT 'rejected' UNION ALL SELECT 'denied') s;
CREATE TRIGGER tr_minion_count_insert AFTER INSERT ON minion_snapshots
BEGIN
    UPDATE minion_status_counts SET n = n + 1 WHERE status = NEW.status;
END;
CREATE TRIGGER tr_minion_count_delete AFTER DELETE ON minion_snapshots
BEGIN
    UPDATE minion_status_counts SET n = n - 1 WHERE status = OLD.status;
END;
CREATE TRIGGER tr_minion_count_update AFTER UPDATE OF key_status, online ON minion_snapshots
WHEN OLD.status IS NOT NEW.status
BEGIN
    UPDATE minion_status_counts SET n = n - 1 WHERE status = OLD.status;
    UPDATE minion_status_counts SET n = n + 1 WHERE status = NEW.status;
END;

-- 3. A search counts its matches per status from an index alone (no row reads).
CREATE INDEX ix_minions_status_search ON minion_snapshots (status, search_text);
