//! Benchmarks for the package inventory at 10,000 minions x ~1,500 packages, against the
//! salt-api simulator: (a) a full collection the way the poller does it
//! (`inventory::collect::collect` over every online minion: chunked `pkg.list_pkgs` +
//! `grains.get os_family`, diff-only writes): time, peak RSS, database size; (b) the same
//! collection again (the steady state: few packages changed); (c) the pages' reads, including
//! "openssl lt 3.0.13 across the fleet" (target: under 200 ms). Writes its figures to
//! BENCHMARKS.md (section between markers).
//!
//! `cargo run --release --features ssr --example bench_inventory`
//!
//! The simulator runs in a child process (this program, re-run with `BENCH_INV_SIM` set), so the
//! peak RSS measured here is Halite's alone.

mod common;

use halite::model::inventory::{
    NameOp, PackageFilters, PackageSearch, PackageSort, PackageSource, VersionOp,
};
use halite::model::list::{ListQuery, SortDir};

use halite::server::inventory::{collect, store};
use halite::server::minions::poller;
use std::time::Instant;

const CHILD: &str = "BENCH_INV_SIM";
const FLEET: usize = 10_000;
const QUERY_RUNS: usize = 30;

fn packages(
    source: Option<PackageSource>,
    sort: Option<PackageSort>,
    q: &str,
) -> ListQuery<PackageFilters> {
    ListQuery {
        q: q.into(),
        sort,
        dir: SortDir::Asc,
        page: 1,
        per_page: 50,
        filters: source,
    }
}

fn search(
    name: Option<(NameOp, &str)>,
    version: Option<(VersionOp, &str)>,
    minion: Option<&str>,
) -> PackageSearch {
    PackageSearch {
        name: name.map(|(o, n)| (o, n.to_string())),
        version: version.map(|(o, v)| (o, v.to_string())),
        source: None,
        minion: minion.map(String::from),
    }
}

fn main() {
    if std::env::var_os(CHILD).is_some() {
        common::serve_sim_child(salt_sim::SimConfig {
            minions: FLEET,
            ..Default::default()
        });
    }
    let (mut sim, url) = common::spawn_sim_child(CHILD);
    let sim_pid = sim.id();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let out = rt.block_on(run(&url, sim_pid));
    let _ = sim.kill();
    let _ = sim.wait();
    let section = format!(
        "<!-- bench_inventory:start -->\n## Package inventory (`cargo run --release --features ssr --example bench_inventory`)\n\nMeasured {} on this machine ({} cores, {:.0} GB RAM), release build, SQLite in WAL mode on local disk, salt-api simulator with {FLEET} minions in a separate process.\n\n{out}<!-- bench_inventory:end -->",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        common::mem_total_gb(),
    );
    common::write_section("bench_inventory", &section);
}

async fn run(url: &str, sim_pid: u32) -> String {
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}/bench.db?mode=rwc", dir.path().display());
    let db = halite::server::db::connect(&db_url).await.unwrap();
    let c = common::client(url);
    c.login().await.unwrap();
    // The fleet as the minions pollers see it: accepted keys, who is connected.
    poller::poll_keys(&c, &db).await.unwrap();
    poller::poll_presence(&c, &db).await.unwrap();
    let minions = halite::server::inventory::poller::online_minions(&db)
        .await
        .unwrap();

    let base_rss = common::proc_status_mb("VmRSS:");
    let reset = common::reset_peak_rss();
    let t = Instant::now();
    let first = collect::collect(
        &c,
        &db,
        minions.clone(),
        None,
        collect::lock_writes(&db).await.unwrap(),
    )
    .await
    .unwrap();
    let first_time = t.elapsed();
    let first_peak = common::peak_rss_mb();
    eprintln!("bench_inventory: first collection {first_time:.2?}");
    let t = Instant::now();
    let second = collect::collect(
        &c,
        &db,
        minions.clone(),
        None,
        collect::lock_writes(&db).await.unwrap(),
    )
    .await
    .unwrap();
    let second_time = t.elapsed();
    eprintln!("bench_inventory: second collection {second_time:.2?}");
    let all_peak = common::peak_rss_mb();
    let sim_peak = common::peak_rss_of(sim_pid);
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(db.sqlite().unwrap())
        .await
        .unwrap();
    let db_mb = common::dir_mb(dir.path());
    let count = |sql: &'static str| {
        let db = db.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(db.sqlite().unwrap())
                .await
                .unwrap()
        }
    };
    let facts = count("SELECT COUNT(*) FROM inventory_installed").await;
    let versions = count("SELECT COUNT(*) FROM inventory_versions").await;
    let names = count("SELECT COUNT(DISTINCT name) FROM inventory_packages").await;
    let packages_total: i64 = first.package_counts.values().sum();

    let mut out = format!(
        "**(a) Full collection** of {} online minions (of {FLEET}; the simulator keeps 5% offline), {} refreshed, {} did not answer, {packages_total} packages stored ({facts} facts, {versions} distinct versions of {names} package names):\n\n| | |\n|---|---|\n| first collection (empty inventory) | {:.1} s |\n| second collection (steady state, diff-only writes) | {:.1} s ({} refreshed) |\n| Halite process RSS before (DB open, keys and presence polled) | {base_rss:.0} MB |\n| peak RSS during the first collection | {} |\n| peak RSS over both | {} |\n| simulator process peak RSS (not Halite) | {sim_peak:.0} MB |\n| SQLite database after both | {db_mb:.0} MB |\n\n",
        minions.len(),
        first.minions_refreshed,
        first.no_answer.len(),
        first_time.as_secs_f64(),
        second_time.as_secs_f64(),
        second.minions_refreshed,
        if reset { format!("{first_peak:.0} MB") } else { format!("{first_peak:.0} MB (process peak; clear_refs unavailable)") },
        if reset { format!("{all_peak:.0} MB") } else { "n/a".into() },
    );

    let db = &db;
    out.push_str(&format!(
        "**(b) Page reads** ({QUERY_RUNS} calls each after one warm-up; server-side work without HTTP):\n\n| query | min | median | max |\n|---|---|---|---|\n"
    ));
    let openssl_lt = search(
        Some((NameOp::Eq, "openssl")),
        Some((VersionOp::Lt, "3.0.13")),
        None,
    );
    let hits = store::search(db, &openssl_lt, &None, 1, 50).await.unwrap();
    let cases: Vec<(String, PackageSearch)> = vec![
        (
            format!(
                "search `openssl` lt `3.0.13` across the fleet (first 50 of {} hits + total)",
                hits.list.total
            ),
            openssl_lt.clone(),
        ),
        (
            "search `openssl` (any version)".into(),
            search(Some((NameOp::Eq, "openssl")), None, None),
        ),
        (
            "search name prefix `libss` lt `9`".into(),
            search(
                Some((NameOp::Prefix, "libss")),
                Some((VersionOp::Lt, "9")),
                None,
            ),
        ),
        (
            format!("a minion's packages (`{}`)", minions[0]),
            search(None, None, Some(&minions[0])),
        ),
    ];
    for (name, s) in cases {
        let (name, s) = (&name, &s);
        let times = common::time_query(QUERY_RUNS, || async move {
            let p = store::search(db, s, &None, 1, 50).await.unwrap();
            assert!(p.list.total > 0, "{name}");
        })
        .await;
        out.push_str(&common::row3(&format!("`store::search`: {name}"), times));
    }
    // Too broad: refused (422) before any fact is read.
    let broad = &search(
        Some((NameOp::Prefix, "lib")),
        Some((VersionOp::Lt, "2")),
        None,
    );
    let times = common::time_query(QUERY_RUNS, || async move {
        assert!(store::search(db, broad, &None, 1, 50).await.is_err());
    })
    .await;
    out.push_str(&common::row3(
        &format!(
            "`store::search`: name prefix `lib` lt `2` (more than {} facts: refused with a 422)",
            store::MAX_SEARCH_FACTS
        ),
        times,
    ));
    let scoped = &Some(vec!["minion:sim-web-*".to_string()]);
    let openssl_lt = &openssl_lt;
    let times = common::time_query(QUERY_RUNS, || async move {
        let p = store::search(db, openssl_lt, scoped, 1, 50).await.unwrap();
        assert!(p.list.total > 0);
    })
    .await;
    out.push_str(&common::row3(
        "`store::search`: openssl lt 3.0.13, per-resource role (`minion:sim-web-*`)",
        times,
    ));
    let pcases: Vec<(&str, ListQuery<PackageFilters>)> = vec![
        (
            "packages page, first 50 (most minions first)",
            packages(None, None, ""),
        ),
        (
            "packages page sorted by name",
            packages(None, Some(PackageSort::Name), ""),
        ),
        (
            "packages page, source rpm, search `lib`",
            packages(Some(PackageSource::Rpm), None, "lib"),
        ),
    ];
    for (name, lq) in pcases {
        let lq = &lq;
        let times = common::time_query(QUERY_RUNS, || async move {
            let (rows, total) = store::packages(db, lq).await.unwrap();
            assert!(total > 0 && !rows.is_empty());
        })
        .await;
        out.push_str(&common::row3(&format!("`store::packages`: {name}"), times));
    }
    let times = common::time_query(QUERY_RUNS, || async move {
        assert!(store::status(db).await.unwrap().minions > 0);
    })
    .await;
    out.push_str(&common::row3("`store::status` (the status strip)", times));
    let drift = store::versions(db, "openssl", None).await.unwrap().unwrap();
    let times = common::time_query(QUERY_RUNS, || async move {
        assert!(store::versions(db, "openssl", None)
            .await
            .unwrap()
            .is_some());
    })
    .await;
    out.push_str(&common::row3(
        &format!(
            "`store::versions`: drift view of `openssl` ({} versions)",
            drift.versions.len()
        ),
        times,
    ));
    let top = drift.versions[0].id;
    let times = common::time_query(QUERY_RUNS, || async move {
        assert!(store::version_minions(db, top, &None, 1, 50)
            .await
            .unwrap()
            .is_some());
    })
    .await;
    out.push_str(&common::row3(
        &format!(
            "`store::version_minions`: minions of the newest openssl ({} minions), first page",
            drift.versions[0].minion_count
        ),
        times,
    ));
    out.push_str("\n- Method: the simulator (seed 42) answers `pkg.list_pkgs` with ~1,500 packages a minion from Debian, RPM and Arch package sets, a few versions of each package across the fleet; `collect` is what the poller and the Refresh button run (200 minions a call, 2 calls at a time). Peak RSS is this process's `VmHWM`, reset (`/proc/self/clear_refs`) after the setup. Reads use no `ANALYZE`.\n");
    out
}
