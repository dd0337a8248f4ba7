-- The Audit page lists newest first (ORDER BY id DESC) under each filter. An index on the
-- filtered column alone ends in the row id, so SQLite reads a filter's rows already in that
-- order and a page stops after its LIMIT; (action, at) and (user_id, at) would need a sort of
-- every matching row first. Measured at 1,000,000 rows by examples/bench_audit.rs.
CREATE INDEX ix_audit_username ON audit_log (username COLLATE NOCASE);
-- "What did this user do of that kind": both filters answered (and counted) from the index.
CREATE INDEX ix_audit_username_action ON audit_log (username COLLATE NOCASE, action);
CREATE INDEX ix_audit_action ON audit_log (action);
CREATE INDEX ix_audit_decision ON audit_log (decision);
