-- Foundation: users, sessions, RBAC, audit log, runtime settings.
-- Timestamps are UTC RFC 3339 text (sortable, portable to Postgres timestamptz via the app layer).

CREATE TABLE users (
    id              TEXT PRIMARY KEY,
    username        TEXT NOT NULL CHECK (length(username) BETWEEN 1 AND 255),
    username_lower  TEXT NOT NULL UNIQUE,
    password_hash   TEXT NOT NULL,
    display_name    TEXT NOT NULL DEFAULT '',
    email           TEXT,
    email_lower     TEXT,
    is_active       BOOLEAN NOT NULL DEFAULT TRUE,
    is_builtin      BOOLEAN NOT NULL DEFAULT FALSE,
    must_change_pw  BOOLEAN NOT NULL DEFAULT FALSE,
    theme           TEXT NOT NULL DEFAULT 'dark',
    created_at      TEXT NOT NULL,
    last_login_at   TEXT
);
CREATE INDEX ix_users_email_lower ON users (email_lower);

CREATE TABLE sessions (
    id            TEXT PRIMARY KEY,           -- sha256 of the random id in the cookie
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    last_seen_at  TEXT NOT NULL,
    user_agent    TEXT NOT NULL DEFAULT '',
    ip            TEXT NOT NULL DEFAULT ''
);
CREATE INDEX ix_sessions_user_id ON sessions (user_id);

CREATE TABLE roles (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    name_lower   TEXT NOT NULL UNIQUE,
    is_builtin   BOOLEAN NOT NULL DEFAULT FALSE,
    description  TEXT NOT NULL DEFAULT ''
);

CREATE TABLE permissions (
    id             TEXT PRIMARY KEY,
    role_id        TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    verb           TEXT NOT NULL CHECK (length(verb) BETWEEN 1 AND 64),
    resource_glob  TEXT NOT NULL CHECK (length(resource_glob) BETWEEN 1 AND 255),
    UNIQUE (role_id, verb, resource_glob)
);
CREATE INDEX ix_permissions_role_id ON permissions (role_id);

CREATE TABLE user_roles (
    user_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role_id  TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, role_id)
);

CREATE TABLE audit_log (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at           TEXT NOT NULL,
    user_id      TEXT,
    username     TEXT,
    action       TEXT NOT NULL,
    resource     TEXT NOT NULL DEFAULT '',
    args_json    TEXT,
    salt_jid     TEXT,
    decision     TEXT NOT NULL CHECK (decision IN ('allow', 'deny')),
    result_code  INTEGER NOT NULL,
    duration_ms  INTEGER NOT NULL DEFAULT 0,
    ip           TEXT NOT NULL DEFAULT ''
);
CREATE INDEX ix_audit_at ON audit_log (at);
CREATE INDEX ix_audit_action_at ON audit_log (action, at);
CREATE INDEX ix_audit_user_at ON audit_log (user_id, at);

CREATE TABLE app_settings (
    id                                      INTEGER PRIMARY KEY CHECK (id = 1),
    salt_api_url                            TEXT,
    salt_api_username                       TEXT,
    salt_api_password_encrypted             TEXT,
    salt_api_verify                         BOOLEAN NOT NULL DEFAULT TRUE,
    salt_api_eauth                          TEXT NOT NULL DEFAULT 'pam',
    inventory_refresh_minutes               INTEGER NOT NULL DEFAULT 0,
    inventory_refresh_initial_delay_s       INTEGER NOT NULL DEFAULT 30,
    fleet_poll_interval_seconds             INTEGER NOT NULL DEFAULT 0,
    jobs_poll_interval_seconds              INTEGER NOT NULL DEFAULT 0,
    minion_state_keys_interval_seconds      INTEGER NOT NULL DEFAULT 300,
    minion_state_presence_interval_seconds  INTEGER NOT NULL DEFAULT 60,
    minion_state_grains_interval_seconds    INTEGER NOT NULL DEFAULT 300,
    minion_state_initial_delay_seconds      INTEGER NOT NULL DEFAULT 10,
    event_stream_enabled                    BOOLEAN NOT NULL DEFAULT FALSE,
    event_stream_retention_days             INTEGER NOT NULL DEFAULT 30,
    widget_hide_dispatch                    BOOLEAN NOT NULL DEFAULT TRUE,
    widget_hide_routine                     BOOLEAN NOT NULL DEFAULT FALSE,
    widget_show_jobs                        BOOLEAN NOT NULL DEFAULT TRUE,
    widget_show_keys                        BOOLEAN NOT NULL DEFAULT TRUE,
    widget_show_minions                     BOOLEAN NOT NULL DEFAULT TRUE,
    widget_event_count                      INTEGER NOT NULL DEFAULT 6,
    widget_heartbeat_minutes                INTEGER NOT NULL DEFAULT 60,
    updated_at                              TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
INSERT INTO app_settings (id) VALUES (1);
