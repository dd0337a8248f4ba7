-- Issue 17: how many jobs there are, system and not, kept by triggers, so an unfiltered Jobs
-- page does not count 100,000 rows for every page. A search, a function, a status or a
-- per-resource role still counts what it matches.
CREATE TABLE jobs_counts (
    is_system  BOOLEAN PRIMARY KEY,
    n          INTEGER NOT NULL
);
INSERT INTO jobs_counts (is_system, n)
    SELECT s.is_system, (SELECT COUNT(*) FROM jobs_index j WHERE j.is_system = s.is_system)
    FROM (SELECT FALSE AS is_system UNION ALL SELECT TRUE) s;
CREATE TRIGGER tr_jobs_count_insert AFTER INSERT ON jobs_index
BEGIN
    UPDATE jobs_counts SET n = n + 1 WHERE is_system = NEW.is_system;
END;
CREATE TRIGGER tr_jobs_count_delete AFTER DELETE ON jobs_index
BEGIN
    UPDATE jobs_counts SET n = n - 1 WHERE is_system = OLD.is_system;
END;
-- `is_system` follows `function`, which an upsert may rewrite.
CREATE TRIGGER tr_jobs_count_update AFTER UPDATE OF function ON jobs_index
WHEN OLD.is_system IS NOT NEW.is_system
BEGIN
    UPDATE jobs_counts SET n = n - 1 WHERE is_system = OLD.is_system;
    UPDATE jobs_counts SET n = n + 1 WHERE is_system = NEW.is_system;
END;
