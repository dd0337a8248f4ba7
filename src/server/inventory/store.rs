//! The inventory tables (migration `..._inventory.sql`): writing a minion's packages and the
//! reads the pages make.
//!
//! Writes: each distinct package (name, source) and version (package, version, arch) is stored
//! once and a minion's packages are two-integer facts. Replacing a minion's packages writes only
//! the difference to what it had (an unchanged minion costs one row update), and keeps the
//! packages' and versions' minion counts, so the packages page never counts facts. A
//! [`Catalog`] (every package and version id, loaded once per collection) saves a lookup per row.

use crate::error::AppError;
use crate::model::inventory::{
    InventoryStatus, NameOp, PackageFilters, PackageHit, PackageRow, PackageSearch, PackageSort,
    PackageSource, PackageVersions, SearchPage, VersionMinion, VersionMinions, VersionRow,
    MAX_CANDIDATES,
};
use crate::model::list::{ListQuery, SortDir};
use crate::model::page::Page;
use crate::salt::packages::InstalledPackage;
use crate::server::db::{Db, Dialect, Engine, Ts};
use crate::server::minions::store::push_allowed;
use crate::with_db;
use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;
use std::collections::{HashMap, HashSet};

/// Rows per multi-row statement (two binds each, well under SQLite's 32,766).
const ROWS_PER_STATEMENT: usize = 5_000;

/// One minion's answer, ready to store.
#[derive(Debug, Clone)]
pub struct MinionPackages {
    pub minion_id: String,
    pub os_family: String,
    pub source: Option<PackageSource>,
    pub packages: Vec<InstalledPackage>,
}

/// Every package and version id, so that storing a minion resolves its ~1,500 rows in memory.
/// Valid while the caller holds the inventory write lock (nothing else adds or deletes rows).
#[derive(Debug, Default)]
pub struct Catalog {
    packages: HashMap<(String, String), i64>,
    versions: HashMap<(i64, String, String), i64>,
    /// version id -> package id.
    package_of: HashMap<i64, i64>,
}

impl Catalog {
    /// Read every package and version id.
    pub async fn load(db: &Db) -> Result<Self, sqlx::Error> {
        let mut c = Catalog::default();
        type Rows = (Vec<(i64, String, String)>, Vec<(i64, i64, String, String)>);
        let (pkgs, vers): Rows = with_db!(db, p => (
            sqlx::query_as("SELECT id, source, name FROM inventory_packages")
                .fetch_all(p)
                .await?,
            sqlx::query_as("SELECT id, package_id, version, arch FROM inventory_versions")
                .fetch_all(p)
                .await?,
        ));
        for (id, source, name) in pkgs {
            c.packages.insert((source, name), id);
        }
        for (id, pkg, version, arch) in vers {
            c.versions.insert((pkg, version, arch), id);
            c.package_of.insert(id, pkg);
        }
        Ok(c)
    }
}

/// Insert a package (name, source) if new; its id (the statement of `Catalog`'s misses).
const INSERT_PACKAGE: &str = "INSERT INTO inventory_packages (name, source) VALUES ($1, $2) \
     ON CONFLICT (name, source) DO UPDATE SET name = excluded.name RETURNING id";

/// Insert a version (package, version, arch) if new; its id.
const INSERT_VERSION: &str =
    "INSERT INTO inventory_versions (package_id, version, arch) VALUES ($1, $2, $3) \
     ON CONFLICT (package_id, version, arch) DO UPDATE SET version = excluded.version \
     RETURNING id";

/// Escape `s` for `LIKE … ESCAPE '\\'` (SQLite's LIKE ignores case for ASCII letters only, so
/// the text keeps its case: `Éclair` still finds `Éclair`).
fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// Push `ids` separated by commas (each a bind).
fn push_ids<DB: Dialect>(q: &mut QueryBuilder<'_, DB>, ids: &[i64]) {
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        DB::push_i64(q, *id);
    }
}

/// `UPDATE <table> SET minion_count = minion_count + delta WHERE id IN (ids)`, in chunks.
fn bump<DB: Dialect>(
    table: &'static str,
    ids: &[i64],
    delta: i64,
) -> Vec<QueryBuilder<'static, DB>> {
    ids.chunks(ROWS_PER_STATEMENT)
        .map(|chunk| {
            let mut q = QueryBuilder::<DB>::new("UPDATE ");
            q.push(table).push(" SET minion_count = minion_count + ");
            DB::push_i64(&mut q, delta);
            q.push(" WHERE id IN (");
            push_ids(&mut q, chunk);
            q.push(")");
            q
        })
        .collect()
}

/// Replace the packages of each minion in `batch` (one transaction for the batch): afterwards
/// each minion has exactly the rows it reported, `collected_at` = `now`. Returns the packages
/// stored per minion.
pub async fn store_minions(
    db: &Db,
    catalog: &mut Catalog,
    batch: &[MinionPackages],
    now: DateTime<Utc>,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    with_db!(db, p, DB => {
        let mut tx = p.begin().await?;
        let mut touched: HashSet<i64> = HashSet::new();
        let mut stored = Vec::with_capacity(batch.len());
        for m in batch {
            let source = PackageSource::stored(m.source);
            let minion_ref: i64 = sqlx::query_scalar(
                "INSERT INTO inventory_minions (minion_id, os_family, source, collected_at, \
                 package_count) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (minion_id) DO UPDATE SET \
                 os_family = excluded.os_family, source = excluded.source, \
                 collected_at = excluded.collected_at, package_count = excluded.package_count \
                 RETURNING id",
            )
            .bind(&m.minion_id)
            .bind(&m.os_family)
            .bind(source)
            .bind(Ts(now))
            .bind(m.packages.len() as i64)
            .fetch_one(&mut *tx)
            .await?;
            let old: Vec<i64> = sqlx::query_scalar(
                "SELECT version_id FROM inventory_installed WHERE minion_ref = $1",
            )
            .bind(minion_ref)
            .fetch_all(&mut *tx)
            .await?;
            let old: HashSet<i64> = old.into_iter().collect();
            let mut new = HashSet::with_capacity(m.packages.len());
            for p in &m.packages {
                // The catalog has (nearly) every id; a miss is inserted, under the write lock.
                let pkg_key = (source.to_string(), p.name.clone());
                let pkg = match catalog.packages.get(&pkg_key) {
                    Some(id) => *id,
                    None => {
                        let id: i64 = sqlx::query_scalar(INSERT_PACKAGE)
                            .bind(&p.name)
                            .bind(source)
                            .fetch_one(&mut *tx)
                            .await?;
                        catalog.packages.insert(pkg_key, id);
                        id
                    }
                };
                let key = (pkg, p.version.clone(), p.arch.clone());
                let version = match catalog.versions.get(&key) {
                    Some(id) => *id,
                    None => {
                        let id: i64 = sqlx::query_scalar(INSERT_VERSION)
                            .bind(pkg)
                            .bind(&p.version)
                            .bind(&p.arch)
                            .fetch_one(&mut *tx)
                            .await?;
                        catalog.versions.insert(key, id);
                        catalog.package_of.insert(id, pkg);
                        id
                    }
                };
                new.insert(version);
            }
            let added: Vec<i64> = new.difference(&old).copied().collect();
            let removed: Vec<i64> = old.difference(&new).copied().collect();
            stored.push((m.minion_id.clone(), new.len() as i64));
            if added.is_empty() && removed.is_empty() {
                continue;
            }
            for chunk in removed.chunks(ROWS_PER_STATEMENT) {
                let mut q =
                    QueryBuilder::<DB>::new("DELETE FROM inventory_installed WHERE minion_ref = ");
                DB::push_i64(&mut q, minion_ref);
                q.push(" AND version_id IN (");
                push_ids(&mut q, chunk);
                q.push(")");
                q.build().execute(&mut *tx).await?;
            }
            for chunk in added.chunks(ROWS_PER_STATEMENT) {
                let mut q = QueryBuilder::<DB>::new(
                    "INSERT INTO inventory_installed (minion_ref, version_id) VALUES ",
                );
                for (i, id) in chunk.iter().enumerate() {
                    q.push(if i > 0 { ", (" } else { "(" });
                    DB::push_i64(&mut q, minion_ref);
                    q.push(", ");
                    DB::push_i64(&mut q, *id);
                    q.push(")");
                }
                q.build().execute(&mut *tx).await?;
            }
            let pkgs = |ids: &HashSet<i64>| -> HashSet<i64> {
                ids.iter()
                    .filter_map(|v| catalog.package_of.get(v).copied())
                    .collect()
            };
            let (old_pkgs, new_pkgs) = (pkgs(&old), pkgs(&new));
            let gained: Vec<i64> = new_pkgs.difference(&old_pkgs).copied().collect();
            let lost: Vec<i64> = old_pkgs.difference(&new_pkgs).copied().collect();
            let bumps = [
                bump::<DB>("inventory_versions", &added, 1),
                bump::<DB>("inventory_versions", &removed, -1),
                bump::<DB>("inventory_packages", &gained, 1),
                bump::<DB>("inventory_packages", &lost, -1),
            ];
            for mut q in bumps.into_iter().flatten() {
                q.build().execute(&mut *tx).await?;
            }
            touched.extend(
                added
                    .iter()
                    .chain(&removed)
                    .filter_map(|v| catalog.package_of.get(v).copied()),
            );
        }
        let touched: Vec<i64> = touched.into_iter().collect();
        for chunk in touched.chunks(ROWS_PER_STATEMENT) {
            let mut q = QueryBuilder::<DB>::new(
                "UPDATE inventory_packages SET version_count = (SELECT COUNT(*) \
                 FROM inventory_versions v \
                 WHERE v.package_id = inventory_packages.id AND v.minion_count > 0) WHERE id IN (",
            );
            push_ids(&mut q, chunk);
            q.push(")");
            q.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(stored)
    })
}

/// Forget minions (their keys are gone): their facts go and the counts follow.
pub async fn forget_minions(
    db: &Db,
    catalog: &mut Catalog,
    ids: &[String],
) -> Result<(), sqlx::Error> {
    if ids.is_empty() {
        return Ok(());
    }
    let batch: Vec<MinionPackages> = ids
        .iter()
        .map(|id| MinionPackages {
            minion_id: id.clone(),
            os_family: String::new(),
            source: None,
            packages: vec![],
        })
        .collect();
    store_minions(db, catalog, &batch, Utc::now()).await?;
    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
        with_db!(db, p, DB => {
            let mut q =
                QueryBuilder::<DB>::new("DELETE FROM inventory_minions WHERE minion_id IN (");
            for (i, id) in chunk.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                DB::push_str(&mut q, id.clone());
            }
            q.push(")");
            q.build().execute(p).await?;
        });
    }
    Ok(())
}

/// Drop versions and packages no minion has any more (after a collection, under the write
/// lock: the [`Catalog`] of that collection is stale afterwards).
pub async fn sweep(db: &Db) -> Result<(), sqlx::Error> {
    with_db!(db, p => {
        let mut tx = p.begin().await?;
        sqlx::query("DELETE FROM inventory_versions WHERE minion_count <= 0")
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "DELETE FROM inventory_packages WHERE minion_count <= 0 AND NOT EXISTS \
             (SELECT 1 FROM inventory_versions v WHERE v.package_id = inventory_packages.id)",
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    })
}

/// Minions with collected packages whose key is no longer accepted (or gone, once the keys
/// poller has seen any accepted key).
pub async fn gone_minions(db: &Db) -> Result<Vec<String>, sqlx::Error> {
    with_db!(db, p => sqlx::query_scalar(
        "SELECT i.minion_id FROM inventory_minions i LEFT JOIN minion_snapshots s \
         ON s.minion_id = i.minion_id WHERE s.key_status <> 'accepted' OR (s.minion_id IS NULL \
         AND EXISTS (SELECT 1 FROM minion_snapshots WHERE key_status = 'accepted'))",
    )
    .fetch_all(p)
    .await)
}

// ---- reads ---------------------------------------------------------------------------------

/// What the inventory holds.
pub async fn status(db: &Db) -> Result<InventoryStatus, sqlx::Error> {
    type Row = (i64, i64, Option<DateTime<Utc>>, Option<DateTime<Utc>>);
    let ((minions, installed, oldest, newest), packages): (Row, i64) = with_db!(db, p => (
        sqlx::query_as(
            "SELECT COUNT(*), CAST(COALESCE(SUM(package_count), 0) AS BIGINT), \
             MIN(collected_at), MAX(collected_at) FROM inventory_minions",
        )
        .fetch_one(p)
        .await?,
        sqlx::query_scalar(
            "SELECT COUNT(DISTINCT name) FROM inventory_packages WHERE minion_count > 0",
        )
        .fetch_one(p)
        .await?,
    ));
    Ok(InventoryStatus {
        minions,
        packages,
        installed,
        newest_collected_at: newest,
        oldest_collected_at: oldest,
        refresh_minutes: 0,
        can_refresh: false,
    })
}

/// `LIKE` on SQLite (which ignores ASCII case), `ILIKE` on Postgres.
fn like<DB: Dialect>() -> &'static str {
    match DB::ENGINE {
        Engine::Sqlite => " LIKE ",
        Engine::Postgres => " ILIKE ",
    }
}

fn push_package_where<DB: Dialect>(
    q: &mut QueryBuilder<'_, DB>,
    search: &str,
    source: Option<PackageSource>,
) {
    q.push(" WHERE minion_count > 0");
    if !search.is_empty() {
        q.push(" AND name").push(like::<DB>());
        DB::push_str(q, format!("%{}%", escape_like(search)));
        q.push(" ESCAPE '\\'");
    }
    if let Some(s) = source {
        q.push(" AND source = ");
        DB::push_str(q, s.as_str().to_string());
    }
}

/// One page of the packages list and the number of names that match.
pub async fn packages(
    db: &Db,
    lq: &ListQuery<PackageFilters>,
) -> Result<(Vec<PackageRow>, i64), sqlx::Error> {
    with_db!(db, p, DB => {
        let mut q = QueryBuilder::<DB>::new(match DB::ENGINE {
            Engine::Sqlite => {
                "SELECT name, SUM(minion_count) AS minion_count, \
                 SUM(version_count) AS version_count, \
                 COALESCE(GROUP_CONCAT(NULLIF(source, ''), ','), '') AS sources \
                 FROM inventory_packages"
            }
            Engine::Postgres => {
                "SELECT name, CAST(SUM(minion_count) AS BIGINT) AS minion_count, \
                 CAST(SUM(version_count) AS BIGINT) AS version_count, \
                 COALESCE(string_agg(NULLIF(source, ''), ',' ORDER BY source), '') AS sources \
                 FROM inventory_packages"
            }
        });
        push_package_where(&mut q, &lq.q, lq.filters);
        q.push(" GROUP BY name ORDER BY ");
        let dir = match lq.dir {
            SortDir::Asc => " ASC",
            SortDir::Desc => " DESC",
        };
        let name = DB::BYTE_ORDER;
        match lq.sort {
            None => q.push("minion_count DESC, name").push(name).push(" ASC"),
            Some(PackageSort::Name) => q.push("name").push(name).push(dir),
            Some(PackageSort::Minions) => {
                q.push("minion_count").push(dir).push(", name").push(name).push(" ASC")
            }
            Some(PackageSort::Versions) => {
                q.push("version_count").push(dir).push(", name").push(name).push(" ASC")
            }
        };
        q.push(" LIMIT ");
        DB::push_i64(&mut q, lq.per_page);
        q.push(" OFFSET ");
        DB::push_i64(&mut q, (lq.page - 1) * lq.per_page);
        let rows = q.build_query_as::<PackageRow>().fetch_all(p).await?;
        let mut c = QueryBuilder::<DB>::new("SELECT COUNT(DISTINCT name) FROM inventory_packages");
        push_package_where(&mut c, &lq.q, lq.filters);
        let total: i64 = c.build_query_scalar().fetch_one(p).await?;
        Ok((rows, total))
    })
}

/// Sort versions newest first by their source's rules (then arch, then source).
pub fn sort_newest_first(rows: &mut [VersionRow]) {
    rows.sort_by(|a, b| {
        let rules = PackageSource::rules(PackageSource::from_stored(&a.source));
        a.source
            .cmp(&b.source)
            .then_with(|| rules.compare(&b.version, &a.version))
            .then_with(|| a.arch.cmp(&b.arch))
    });
    // Sources apart, the source with the most minions first.
    let mut per_source: HashMap<String, i64> = HashMap::new();
    for r in rows.iter() {
        *per_source.entry(r.source.clone()).or_default() += r.minion_count;
    }
    rows.sort_by(|a, b| {
        per_source[&b.source]
            .cmp(&per_source[&a.source])
            .then_with(|| a.source.cmp(&b.source))
    });
}

/// A package's versions, newest first; `None` when no minion has it.
pub async fn versions(
    db: &Db,
    name: &str,
    source: Option<PackageSource>,
) -> Result<Option<PackageVersions>, sqlx::Error> {
    let mut rows: Vec<VersionRow> = with_db!(db, p, DB => {
        let mut q = QueryBuilder::<DB>::new(
            "SELECT v.id, v.version, v.arch, p.source, v.minion_count FROM inventory_versions v \
             JOIN inventory_packages p ON p.id = v.package_id \
             WHERE v.minion_count > 0 AND p.name = ",
        );
        DB::push_str(&mut q, name.to_string());
        if let Some(s) = source {
            q.push(" AND p.source = ");
            DB::push_str(&mut q, s.as_str().to_string());
        }
        q.build_query_as().fetch_all(p).await?
    });
    if rows.is_empty() {
        return Ok(None);
    }
    sort_newest_first(&mut rows);
    let minion_count: i64 = with_db!(db, p, DB => {
        let mut c = QueryBuilder::<DB>::new(
            "SELECT CAST(COALESCE(SUM(minion_count), 0) AS BIGINT) FROM inventory_packages \
             WHERE name = ",
        );
        DB::push_str(&mut c, name.to_string());
        if let Some(s) = source {
            c.push(" AND source = ");
            DB::push_str(&mut c, s.as_str().to_string());
        }
        c.build_query_scalar().fetch_one(p).await?
    });
    Ok(Some(PackageVersions {
        name: name.to_string(),
        minion_count,
        versions: rows,
    }))
}

/// The minions (that `globs` allows) with version `id`, a page at a time; `None` for an
/// unknown version.
pub async fn version_minions(
    db: &Db,
    id: i64,
    globs: &Option<Vec<String>>,
    page: i64,
    per_page: i64,
) -> Result<Option<VersionMinions>, sqlx::Error> {
    type Head = Option<(String, i64, String, String, String, i64)>;
    let head: Head = with_db!(db, p => sqlx::query_as(
        "SELECT p.name, v.id, v.version, v.arch, p.source, v.minion_count \
         FROM inventory_versions v JOIN inventory_packages p ON p.id = v.package_id \
         WHERE v.id = $1 AND v.minion_count > 0",
    )
    .bind(id)
    .fetch_optional(p)
    .await?);
    let Some((name, id, version, arch, source, minion_count)) = head else {
        return Ok(None);
    };
    let version = VersionRow {
        id,
        version,
        arch,
        source,
        minion_count,
    };
    let from = "FROM inventory_installed i JOIN inventory_minions m ON m.id = i.minion_ref \
                WHERE i.version_id = ";
    let (rows, total): (Vec<VersionMinion>, i64) = with_db!(db, p, DB => {
        let mut q = QueryBuilder::<DB>::new("SELECT m.minion_id, m.collected_at ");
        q.push(from);
        DB::push_i64(&mut q, id);
        push_allowed(&mut q, "('minion:' || m.minion_id)", globs);
        q.push(" ORDER BY m.minion_id").push(DB::BYTE_ORDER).push(" LIMIT ");
        DB::push_i64(&mut q, per_page);
        q.push(" OFFSET ");
        DB::push_i64(&mut q, (page - 1) * per_page);
        let rows = q.build_query_as().fetch_all(p).await?;
        let mut c = QueryBuilder::<DB>::new("SELECT COUNT(*) ");
        c.push(from);
        DB::push_i64(&mut c, id);
        push_allowed(&mut c, "('minion:' || m.minion_id)", globs);
        (rows, c.build_query_scalar().fetch_one(p).await?)
    });
    Ok(Some(VersionMinions {
        version,
        name,
        list: Page::new(rows, total, page, per_page),
    }))
}

const HIT_COLUMNS: &str =
    "SELECT m.minion_id, p.name, v.version, v.arch, p.source, m.collected_at \
     FROM inventory_installed i JOIN inventory_minions m ON m.id = i.minion_ref \
     JOIN inventory_versions v ON v.id = i.version_id \
     JOIN inventory_packages p ON p.id = v.package_id";

/// Facts a name search may walk: past this it is refused with a 422 asking to narrow it (the
/// sort and count over millions of facts would hold a connection for seconds).
pub const MAX_SEARCH_FACTS: i64 = 500_000;

/// The versions whose package name matches (at most [`MAX_CANDIDATES`] + 1).
async fn candidates(
    db: &Db,
    op: NameOp,
    name: &str,
    source: Option<PackageSource>,
) -> Result<Vec<(i64, String, String, i64)>, sqlx::Error> {
    with_db!(db, p, DB => {
        let mut q = QueryBuilder::<DB>::new(
            "SELECT v.id, p.source, v.version, v.minion_count FROM inventory_versions v \
             JOIN inventory_packages p ON p.id = v.package_id WHERE v.minion_count > 0 AND ",
        );
        match op {
            NameOp::Eq => {
                q.push("p.name = ");
                DB::push_str(&mut q, name.to_string());
            }
            NameOp::Prefix => {
                q.push("p.name").push(like::<DB>());
                DB::push_str(&mut q, format!("{}%", escape_like(name)));
                q.push(" ESCAPE '\\'");
            }
            NameOp::Contains => {
                q.push("p.name").push(like::<DB>());
                DB::push_str(&mut q, format!("%{}%", escape_like(name)));
                q.push(" ESCAPE '\\'");
            }
        };
        if let Some(s) = source {
            q.push(" AND p.source = ");
            DB::push_str(&mut q, s.as_str().to_string());
        }
        q.push(" LIMIT ");
        DB::push_i64(&mut q, MAX_CANDIDATES + 1);
        q.build_query_as().fetch_all(p).await
    })
}

fn starts_with_ascii_ci(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len()
        && s.is_char_boundary(prefix.len())
        && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

fn contains_ascii_ci(s: &str, needle: &str) -> bool {
    needle.is_empty()
        || s.char_indices()
            .any(|(i, _)| starts_with_ascii_ci(&s[i..], needle))
}

/// Search installed packages: by name (the versions that match, compared in memory by their
/// source's rules, then their minions by index; refused past [`MAX_SEARCH_FACTS`]), or, when a
/// minion is named, that minion's packages filtered in memory. Only the minions `globs` allows.
/// Ordered by minion, package, version.
pub async fn search(
    db: &Db,
    s: &PackageSearch,
    globs: &Option<Vec<String>>,
    page: i64,
    per_page: i64,
) -> Result<SearchPage, AppError> {
    let offset = (page - 1) * per_page;
    let keep = |source: &str, version: &str| match &s.version {
        None => true,
        Some((op, wanted)) => op.holds(
            PackageSource::rules(PackageSource::from_stored(source)),
            version,
            wanted,
        ),
    };
    let (Some((op, name)), None) = (&s.name, &s.minion) else {
        // A minion's packages (a few thousand rows): filtered and paged in memory.
        let all: Vec<PackageHit> = with_db!(db, p, DB => {
            let mut q = QueryBuilder::<DB>::new(HIT_COLUMNS);
            q.push(" WHERE m.minion_id = ");
            DB::push_str(&mut q, s.minion.clone().unwrap_or_default());
            if let Some(src) = s.source {
                q.push(" AND p.source = ");
                DB::push_str(&mut q, src.as_str().to_string());
            }
            push_allowed(&mut q, "('minion:' || m.minion_id)", globs);
            let c = DB::BYTE_ORDER;
            q.push(format!(" ORDER BY p.name{c}, v.version{c}, v.arch{c}"));
            q.build_query_as().fetch_all(p).await?
        });
        let named = |h: &PackageHit| match &s.name {
            None => true,
            Some((NameOp::Eq, n)) => &h.name == n,
            Some((NameOp::Prefix, n)) => starts_with_ascii_ci(&h.name, n),
            Some((NameOp::Contains, n)) => contains_ascii_ci(&h.name, n),
        };
        let matching: Vec<PackageHit> = all
            .into_iter()
            .filter(|h| named(h) && keep(&h.source, &h.version))
            .collect();
        let total = matching.len() as i64;
        let rows = matching
            .into_iter()
            .skip(offset as usize)
            .take(per_page as usize)
            .collect();
        return Ok(SearchPage {
            list: Page::new(rows, total, page, per_page),
            truncated: false,
        });
    };
    let mut found = candidates(db, *op, name, s.source).await?;
    let truncated = found.len() as i64 > MAX_CANDIDATES;
    found.truncate(MAX_CANDIDATES as usize);
    let found: Vec<(i64, i64)> = found
        .into_iter()
        .filter(|(_, source, version, _)| keep(source, version))
        .map(|(id, _, _, n)| (id, n))
        .collect();
    let facts: i64 = found.iter().map(|(_, n)| n).sum();
    if facts > MAX_SEARCH_FACTS {
        return Err(AppError::invalid(
            "name",
            format!(
                "This search matches {facts} installed packages, more than {MAX_SEARCH_FACTS} \
                 can be listed: use an exact name, a version comparison, a source or a minion."
            ),
        ));
    }
    let ids: Vec<i64> = found.into_iter().map(|(id, _)| id).collect();
    if ids.is_empty() {
        return Ok(SearchPage {
            list: Page::new(vec![], 0, page, per_page),
            truncated,
        });
    }
    let (rows, total): (Vec<PackageHit>, i64) = with_db!(db, p, DB => {
        let push_where = |q: &mut QueryBuilder<'_, DB>| {
            q.push(" WHERE i.version_id IN ");
            DB::push_i64_list(q, &ids);
        };
        let mut q = QueryBuilder::<DB>::new(HIT_COLUMNS);
        push_where(&mut q);
        push_allowed(&mut q, "('minion:' || m.minion_id)", globs);
        let c = DB::BYTE_ORDER;
        q.push(format!(
            " ORDER BY m.minion_id{c}, p.name{c}, v.version{c}, v.arch{c} LIMIT "
        ));
        DB::push_i64(&mut q, per_page);
        q.push(" OFFSET ");
        DB::push_i64(&mut q, offset);
        let rows = q.build_query_as().fetch_all(p).await?;
        let mut c = QueryBuilder::<DB>::new(
            "SELECT COUNT(*) FROM inventory_installed i \
             JOIN inventory_minions m ON m.id = i.minion_ref",
        );
        push_where(&mut c);
        push_allowed(&mut c, "('minion:' || m.minion_id)", globs);
        (rows, c.build_query_scalar().fetch_one(p).await?)
    });
    Ok(SearchPage {
        list: Page::new(rows, total, page, per_page),
        truncated,
    })
}
