-- The Audit page lists newest first (ORDER BY id DESC) under each filter; the username filter
-- is case-insensitive, so its indexes are on lower(username) (SQLite: COLLATE NOCASE).
CREATE INDEX ix_audit_username ON audit_log (lower(username));
CREATE INDEX ix_audit_username_action ON audit_log (lower(username), action);
CREATE INDEX ix_audit_action ON audit_log (action);
CREATE INDEX ix_audit_decision ON audit_log (decision);
