//! Benchmarks for fleet health at 10,000 minions, against the salt-api simulator: (a) ingest of
//! one fleet-wide highstate job the way the fleet poller does it (`jobs.list_job` over HTTP and
//! its parse, then `fleet::ingest::ingest_job`): time and peak RSS; (b) the fleet page reads
//! (`fleet::store::list`, `counts`, `tiles`, `compliance`, `top_failures`) at 10,000 minions x
//! 30 runs, the runs written by (a) itself. Writes its figures to BENCHMARKS.md (section
//! between markers).
//!
//! `cargo run --release --features ssr --example bench_fleet`
//!
//! The simulator runs in a child process (this program, re-run with `BENCH_FLEET_SIM` set), so
//! the peak RSS measured here is Halite's alone. `BENCH_FLEET_RUNS` (default 30) sets how many
//! state jobs are ingested.

mod common;

use halite::model::fleet::{FleetFilters, FleetSort, HealthStatus, ValidFleetFilters};
use halite::model::list::{ListQuery, SortDir};
use halite::salt::LocalRequest;
use halite::server::fleet::{ingest, store};
use halite::server::minions::poller;
use std::time::Instant;

const CHILD: &str = "BENCH_FLEET_SIM";
const FLEET: usize = 10_000;
const QUERY_RUNS: usize = 50;

fn fleet_query(
    status: Option<HealthStatus>,
    failing: Option<String>,
    q: &str,
    sort: Option<FleetSort>,
    dir: SortDir,
    page: i64,
) -> ListQuery<FleetFilters> {
    ListQuery {
        q: q.into(),
        sort,
        dir,
        page,
        per_page: 50,
        filters: ValidFleetFilters { status, failing },
    }
}

fn main() {
    if std::env::var_os(CHILD).is_some() {
        common::serve_sim_child(salt_sim::SimConfig {
            minions: FLEET,
            ..Default::default()
        });
    }
    let runs: usize = std::env::var("BENCH_FLEET_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30)
        .max(1);
    let (mut sim, url) = common::spawn_sim_child(CHILD);
    let sim_pid = sim.id();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let out = rt.block_on(run(&url, sim_pid, runs));
    let _ = sim.kill();
    let _ = sim.wait();
    let section = format!(
        "<!-- bench_fleet:start -->\n## Fleet health (`cargo run --release --features ssr --example bench_fleet`)\n\nMeasured {} on this machine ({} cores, {:.0} GB RAM), release build, SQLite in WAL mode on local disk, salt-api simulator with {FLEET} minions in a separate process.\n\n{out}<!-- bench_fleet:end -->",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        common::mem_total_gb(),
    );
    common::write_section("bench_fleet", &section);
}

async fn run(url: &str, sim_pid: u32, runs: usize) -> String {
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}/bench.db?mode=rwc", dir.path().display());
    let db = halite::server::db::connect(&db_url).await.unwrap();
    let c = common::client(url);
    c.login().await.unwrap();
    // The fleet as the minions pollers see it: accepted keys, who is connected.
    poller::poll_keys(&c, &db).await.unwrap();
    poller::poll_presence(&c, &db).await.unwrap();

    let apply = LocalRequest::simple("*", "glob", "state.apply");
    let dispatch = async || {
        c.local_async(&apply)
            .await
            .unwrap()
            .expect("minions matched")
    };

    // The reply's size, once, outside the measured runs.
    let job = dispatch().await;
    let body = c
        .call_raw(
            serde_json::json!({"client": "runner", "fun": "jobs.list_job", "jid": job.jid}),
            None,
        )
        .await
        .unwrap();
    let reply_mb = body.len() as f64 / 1e6;
    drop(body);

    let base_rss = common::proc_status_mb("VmRSS:");
    let reset = common::reset_peak_rss();
    let (mut fetch, mut write, mut total) = (vec![], vec![], vec![]);
    let mut first_peak = 0.0;
    let mut report = ingest::IngestReport::default();
    let mut targeted = 0;
    for i in 0..runs {
        let job = dispatch().await;
        let t = Instant::now();
        let detail = c.list_job(&job.jid).await.unwrap();
        let fetched = t.elapsed();
        let t2 = Instant::now();
        let r = ingest::ingest_job(
            &db,
            &job.jid,
            "state.apply",
            &detail,
            true,
            chrono::Utc::now(),
        )
        .await
        .unwrap();
        let wrote = t2.elapsed();
        assert_eq!(
            r.written,
            detail.minions.len(),
            "every targeted minion has a run"
        );
        drop(detail);
        fetch.push(fetched);
        write.push(wrote);
        total.push(fetched + wrote);
        if i == 0 {
            first_peak = common::peak_rss_mb();
            targeted = job.minions.len();
            report = r;
        }
        eprintln!(
            "bench_fleet: job {}/{runs}: list_job {fetched:.2?}, ingest {wrote:.2?}",
            i + 1
        );
    }
    let all_peak = common::peak_rss_mb();
    let sim_peak = common::peak_rss_of(sim_pid);
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(db.sqlite().unwrap())
        .await
        .unwrap();
    let db_mb = common::dir_mb(dir.path());
    let run_rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM highstate_runs")
        .fetch_one(db.sqlite().unwrap())
        .await
        .unwrap();
    let failure_rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM highstate_failures")
        .fetch_one(db.sqlite().unwrap())
        .await
        .unwrap();

    let mut out = format!(
        "**(a) Ingest of one fleet-wide `state.apply` job** ({targeted} targeted minions, ~40 states each; `jobs.list_job` reply {reply_mb:.0} MB; per job {} runs written, {} of them blocked (did not return), {} not state returns), measured over {runs} jobs:\n\n| step | min | median | max |\n|---|---|---|---|\n",
        report.written, report.blocked, report.skipped
    );
    out.push_str(&common::row3(
        "`jobs.list_job` over HTTP + parse (`SaltClient::list_job`)",
        fetch,
    ));
    out.push_str(&common::row3(
        "`ingest_job` (classify, count, batched write of runs, failures, latest-run pointers, job sums)",
        write,
    ));
    out.push_str(&common::row3("total per job", total));
    out.push_str(&format!(
        "\n| memory | |\n|---|---|\n| Halite process RSS before the first job (DB open, keys and presence polled) | {base_rss:.0} MB |\n| peak RSS during the first job | {} |\n| peak RSS over all {runs} jobs | {} |\n| simulator process peak RSS (not Halite) | {sim_peak:.0} MB |\n| SQLite database after {runs} jobs ({run_rows} runs, {failure_rows} failing-state rows, raw returns kept) | {db_mb:.0} MB |\n\n",
        if reset { format!("{first_peak:.0} MB") } else { format!("{first_peak:.0} MB (process peak; clear_refs unavailable)") },
        if reset { format!("{all_peak:.0} MB") } else { "n/a".into() },
    ));

    // (b) The fleet page's reads at 10,000 minions x `runs` runs.
    let db = &db;
    let now = chrono::Utc::now();
    let counts = store::counts(db, &None, now).await.unwrap();
    let top = store::top_failures(db, &None, 10).await.unwrap();
    let failing_id = top.first().map(|t| t.state_id.clone()).unwrap_or_default();
    let all = || fleet_query(None, None, "", None, SortDir::Asc, 1);
    let cases: Vec<(String, ListQuery<FleetFilters>)> = vec![
        ("first page (50, worst first)".into(), all()),
        (
            "status = unhealthy".into(),
            fleet_query(
                Some(HealthStatus::Unhealthy),
                None,
                "",
                None,
                SortDir::Asc,
                1,
            ),
        ),
        (
            "search `web`".into(),
            fleet_query(None, None, "web", None, SortDir::Asc, 1),
        ),
        (
            format!("failing state `{failing_id}` (top failure)"),
            fleet_query(None, Some(failing_id.clone()), "", None, SortDir::Asc, 1),
        ),
        (
            "sort by last run, newest first, page 100".into(),
            fleet_query(
                None,
                None,
                "",
                Some(FleetSort::Completed),
                SortDir::Desc,
                100,
            ),
        ),
    ];
    out.push_str(&format!(
        "**(b) Fleet page reads** at {} minions in the fleet x {runs} runs each ({run_rows} `highstate_runs` rows; statuses now: {} healthy, {} changed, {} unhealthy, {} blocked), {QUERY_RUNS} calls each after one warm-up:\n\n| query | min | median | max |\n|---|---|---|---|\n",
        counts.all(),
        counts.healthy,
        counts.changed,
        counts.unhealthy,
        counts.blocked
    ));
    for (name, lq) in cases {
        let (name, lq) = (&name, &lq);
        let times = common::time_query(QUERY_RUNS, || async move {
            let (rows, total, _) = store::list(db, lq, &None, now).await.unwrap();
            assert!(total > 0 && !rows.is_empty(), "{name}");
        })
        .await;
        out.push_str(&common::row3(
            &format!("`store::list` (page + total + counts per status): {name}"),
            times,
        ));
    }
    let scoped = &Some(vec!["minion:sim-web-*".to_string()]);
    let times = common::time_query(QUERY_RUNS, || async move {
        let (rows, _, _) = store::list(db, &all(), scoped, now).await.unwrap();
        assert!(!rows.is_empty());
    })
    .await;
    out.push_str(&common::row3(
        "`store::list`, per-resource role (`minion:sim-web-*`)",
        times,
    ));
    let times = common::time_query(QUERY_RUNS, || async move {
        assert_eq!(
            store::counts(db, &None, now).await.unwrap().all(),
            counts.all()
        );
    })
    .await;
    out.push_str(&common::row3("`store::counts` (status chips)", times));
    let times = common::time_query(QUERY_RUNS, || async move {
        assert_eq!(
            store::tiles(db, &None, now).await.unwrap().len() as i64,
            counts.all()
        );
    })
    .await;
    out.push_str(&common::row3(
        "`store::tiles` (health grid, every minion)",
        times,
    ));
    let times = common::time_query(QUERY_RUNS, || async move {
        let c = store::compliance(db, &None, 30).await.unwrap();
        assert_eq!(c.len(), runs.min(30));
    })
    .await;
    out.push_str(&common::row3(
        "`store::compliance`, last 30 runs (compliance chart)",
        times,
    ));
    let times = common::time_query(QUERY_RUNS, || async move {
        assert!(!store::compliance(db, scoped, 30).await.unwrap().is_empty());
    })
    .await;
    out.push_str(&common::row3(
        "`store::compliance`, last 30 runs, per-resource role (`minion:sim-web-*`)",
        times,
    ));
    let times = common::time_query(QUERY_RUNS, || async move {
        assert!(!store::top_failures(db, &None, 10).await.unwrap().is_empty());
    })
    .await;
    out.push_str(&common::row3("`store::top_failures`, top 10", times));
    out.push_str(&format!(
        "\n- Method: the simulator (seed 42, 5% of minions offline) answers each `state.apply` on `*` with generated returns (~{:.0} KB a minion: mostly clean, ~15% with changes, ~3.5% failing 1-3 states, ~1% render errors, ~3% not returning); each job is dispatched with `local_async`, then looked up and ingested exactly as `fleet::poller::poll_fleet` does (`SaltClient::list_job`, then `ingest_job` with the job ended, so non-returning minions are written as blocked). Peak RSS is this process's `VmHWM`, reset (`/proc/self/clear_refs`) after the setup. Reads use a fresh `now`, no `ANALYZE`; times are the server-side work of `fleet/list` and `fleet/summary` without HTTP.\n",
        reply_mb * 1000.0 / targeted.max(1) as f64
    ));
    out
}
