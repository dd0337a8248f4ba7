-- Package inventory (SPEC 3.9, 6.9), stored compactly: at 10,000 minions x ~1,500 packages the
-- fleet has ~15 million (minion, package version) facts, so each distinct package (name, source)
-- and each distinct version (package, version, arch) is stored once, and a fact is two integers.
-- Counts are kept up to date by the collector (src/server/inventory/store.rs), so the packages
-- page and the drift view never count the facts table.

-- One row per minion whose packages were collected (SPEC's inventory_snapshot, facet "packages").
CREATE TABLE inventory_minions (
    id             INTEGER PRIMARY KEY,
    minion_id      TEXT NOT NULL UNIQUE,
    os_family      TEXT NOT NULL DEFAULT '',
    source         TEXT NOT NULL DEFAULT '',       -- apt | rpm | pacman | '' (none)
    collected_at   TEXT NOT NULL,                  -- last time it answered with a package list
    package_count  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX ix_inventory_minions_collected ON inventory_minions (collected_at);

-- One row per package name and source.
CREATE TABLE inventory_packages (
    id             INTEGER PRIMARY KEY,
    name           TEXT NOT NULL,
    source         TEXT NOT NULL DEFAULT '',
    minion_count   INTEGER NOT NULL DEFAULT 0,     -- minions with any version of it
    version_count  INTEGER NOT NULL DEFAULT 0,     -- versions with minion_count > 0
    UNIQUE (name, source)
);
CREATE INDEX ix_inventory_packages_count ON inventory_packages (minion_count);

-- One row per installed (package, version, arch).
CREATE TABLE inventory_versions (
    id             INTEGER PRIMARY KEY,
    package_id     INTEGER NOT NULL REFERENCES inventory_packages (id),
    version        TEXT NOT NULL,
    arch           TEXT NOT NULL DEFAULT '',
    minion_count   INTEGER NOT NULL DEFAULT 0,
    UNIQUE (package_id, version, arch)
);

-- The facts: minion -> installed version. Both directions are indexed: replacing a minion's
-- rows walks the primary key, "who has this version" walks the second index.
CREATE TABLE inventory_installed (
    minion_ref     INTEGER NOT NULL REFERENCES inventory_minions (id),
    version_id     INTEGER NOT NULL REFERENCES inventory_versions (id),
    PRIMARY KEY (minion_ref, version_id)
) WITHOUT ROWID;
CREATE INDEX ix_inventory_installed_version ON inventory_installed (version_id, minion_ref);

-- Defaults that show data (DECISIONS "Salt and the pollers"): a fresh install (Salt connection
-- never saved) whose inventory poller is still at SPEC's "off" collects every 6 hours.
UPDATE app_settings
   SET inventory_refresh_minutes = 360
 WHERE id = 1 AND salt_api_url IS NULL AND inventory_refresh_minutes = 0;
