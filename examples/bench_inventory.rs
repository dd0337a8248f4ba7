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
use halite::salt::{SaltClient, SaltConfig};
use halite::server::inventory::{collect, store};
use halite::server::minions::poller;
use std::io::{BufRead, Read, Write};
use std::time::{Duration, Instant};

const CHILD: &str = "BENCH_INV_SIM";
const FLEET: usize = 10_000;
const QUERY_RUNS: usize = 30;

/// The child: a 10,000-minion simulator on a free port; prints `LISTEN <url>` and serves until
/// its stdin closes (the parent ended).
fn child() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = tokio::task::spawn_blocking(|| {
            salt_sim::router(salt_sim::SimConfig {
                minions: FLEET,
                ..Default::default()
            })
        })
        .await
        .unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        println!("LISTEN http://{addr}");
        std::io::stdout().flush().unwrap();
        tokio::task::spawn_blocking(|| {
            let mut sink = [0u8; 64];
            while std::io::stdin().read(&mut sink).is_ok_and(|n| n > 0) {}
        })
        .await
        .unwrap();
    });
    std::process::exit(0);
}

fn client(url: &str) -> SaltClient {
    SaltClient::new(SaltConfig {
        url: url.into(),
        username: "halite".into(),
        password: "sim-pw".into(),
        eauth: "file".into(),
        verify_tls: true,
        timeout: Duration::from_secs(300),
    })
    .unwrap()
}

/// `VmHWM` of another process, in MB.
fn peak_rss_of(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
        })
        .unwrap_or(0.0)
        / 1024.0
}

/// The machine's memory, in GB.
fn mem_total_gb() -> f64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
        })
        .unwrap_or(0.0)
        / 1024.0
        / 1024.0
}

/// Start counting this process's peak RSS again from its current RSS (Linux `clear_refs` 5).
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn dir_mb(dir: &std::path::Path) -> f64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum::<u64>()
        })
        .unwrap_or(0) as f64
        / 1e6
}

/// (min, median, max).
fn spread(mut v: Vec<Duration>) -> (Duration, Duration, Duration) {
    v.sort();
    (v[0], v[v.len() / 2], v[v.len() - 1])
}

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms >= 100.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.2} ms")
    }
}

fn row3(name: &str, v: Vec<Duration>) -> String {
    let (lo, mid, hi) = spread(v);
    format!("| {name} | {} | {} | {} |\n", ms(lo), ms(mid), ms(hi))
}

/// Time `f` `QUERY_RUNS` times (after one warm-up call).
async fn time_query<F, Fut>(mut f: F) -> Vec<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    f().await;
    let mut times = Vec::with_capacity(QUERY_RUNS);
    for _ in 0..QUERY_RUNS {
        let t = Instant::now();
        f().await;
        times.push(t.elapsed());
    }
    times
}

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
        child();
        return;
    }
    let mut sim = std::process::Command::new(std::env::current_exe().unwrap())
        .env(CHILD, "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(sim.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("LISTEN ")
        .expect("the simulator's LISTEN line")
        .to_string();
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
        mem_total_gb(),
    );
    common::write_section("bench_inventory", &section);
}

async fn run(url: &str, sim_pid: u32) -> String {
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}/bench.db?mode=rwc", dir.path().display());
    let db = halite::server::db::connect(&db_url).await.unwrap();
    let c = client(url);
    c.login().await.unwrap();
    // The fleet as the minions pollers see it: accepted keys, who is connected.
    poller::poll_keys(&c, &db).await.unwrap();
    poller::poll_presence(&c, &db).await.unwrap();
    let minions = halite::server::inventory::poller::online_minions(&db)
        .await
        .unwrap();

    let base_rss = common::proc_status_mb("VmRSS:");
    let reset = reset_peak_rss();
    let t = Instant::now();
    let first = collect::collect(
        &c,
        &db,
        minions.clone(),
        None,
        collect::write_lock(&db).lock_owned().await,
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
        collect::write_lock(&db).lock_owned().await,
    )
    .await
    .unwrap();
    let second_time = t.elapsed();
    eprintln!("bench_inventory: second collection {second_time:.2?}");
    let all_peak = common::peak_rss_mb();
    let sim_peak = peak_rss_of(sim_pid);
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&db)
        .await
        .unwrap();
    let db_mb = dir_mb(dir.path());
    let count = |sql: &'static str| {
        let db = db.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&db)
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
            "search name prefix `lib` lt `2`".into(),
            search(
                Some((NameOp::Prefix, "lib")),
                Some((VersionOp::Lt, "2")),
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
        let times = time_query(|| async move {
            let p = store::search(db, s, &None, 1, 50).await.unwrap();
            assert!(p.list.total > 0, "{name}");
        })
        .await;
        out.push_str(&row3(&format!("`store::search`: {name}"), times));
    }
    let scoped = &Some(vec!["minion:sim-web-*".to_string()]);
    let openssl_lt = &openssl_lt;
    let times = time_query(|| async move {
        let p = store::search(db, openssl_lt, scoped, 1, 50).await.unwrap();
        assert!(p.list.total > 0);
    })
    .await;
    out.push_str(&row3(
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
        let times = time_query(|| async move {
            let (rows, total) = store::packages(db, lq).await.unwrap();
            assert!(total > 0 && !rows.is_empty());
        })
        .await;
        out.push_str(&row3(&format!("`store::packages`: {name}"), times));
    }
    let times = time_query(|| async move {
        assert!(store::status(db).await.unwrap().minions > 0);
    })
    .await;
    out.push_str(&row3("`store::status` (the status strip)", times));
    let drift = store::versions(db, "openssl", None).await.unwrap().unwrap();
    let times = time_query(|| async move {
        assert!(store::versions(db, "openssl", None)
            .await
            .unwrap()
            .is_some());
    })
    .await;
    out.push_str(&row3(
        &format!(
            "`store::versions`: drift view of `openssl` ({} versions)",
            drift.versions.len()
        ),
        times,
    ));
    let top = drift.versions[0].id;
    let times = time_query(|| async move {
        assert!(store::version_minions(db, top, &None, 1, 50)
            .await
            .unwrap()
            .is_some());
    })
    .await;
    out.push_str(&row3(
        &format!(
            "`store::version_minions`: minions of the newest openssl ({} minions), first page",
            drift.versions[0].minion_count
        ),
        times,
    ));
    out.push_str("\n- Method: the simulator (seed 42) answers `pkg.list_pkgs` with ~1,500 packages a minion from Debian, RPM and Arch package sets, a few versions of each package across the fleet; `collect` is what the poller and the Refresh button run (200 minions a call, 2 calls at a time). Peak RSS is this process's `VmHWM`, reset (`/proc/self/clear_refs`) after the setup. Reads use no `ANALYZE`.\n");
    out
}
