-- Audit retention (days the audit log keeps a row), edited on the Settings page; pruned hourly.
ALTER TABLE app_settings ADD COLUMN audit_retention_days BIGINT NOT NULL DEFAULT 365;
