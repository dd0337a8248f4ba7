//! Benchmarks for the jobs pipeline: ingest of a 10,000-job `jobs.list_jobs` reply (parse,
//! pure ingest, batched upsert) and the Jobs page query at 100,000 indexed jobs. Writes its
//! figures to BENCHMARKS.md (section between markers).
//!
//! `cargo run --release --features ssr --example bench_jobs`

mod common;

use halite::server::jobs::{ingest, store};
use std::time::{Duration, Instant};

const USERS: [&str; 4] = ["halite", "root", "alice", "bob"];
const FUNS: &[&str] = &[
    "test.ping",
    "state.apply",
    "cmd.run",
    "pkg.list_pkgs",
    "service.restart",
    "runner.manage.present",
    "wheel.key.list_all",
    "saltutil.find_job",
    "grains.items",
    "state.highstate",
];

/// A `jobs.list_jobs` reply body with `n` jobs spread over `hours` ending now.
fn list_jobs_body(n: usize, hours: i64, salt: u64) -> String {
    let now = chrono::Utc::now();
    let mut m = serde_json::Map::new();
    for i in 0..n {
        let t = now - chrono::Duration::microseconds((i as i64) * hours * 3_600_000_000 / n as i64);
        let jid = format!(
            "{}{:06}",
            t.format("%Y%m%d%H%M%S"),
            (t.timestamp_subsec_micros() as u64 + salt) % 1_000_000
        );
        let f = FUNS[i % FUNS.len()];
        m.insert(
            jid,
            serde_json::json!({
                "Function": f,
                "Arguments": if f == "cmd.run" { serde_json::json!(["uptime"]) } else { serde_json::json!([]) },
                "Target": if i % 3 == 0 { serde_json::json!(format!("web-{:04}", i % 9000)) } else { serde_json::json!("*") },
                "Target-type": "glob",
                "User": USERS[i % 4],
                "StartTime": t.format("%Y, %b %d %H:%M:%S%.6f").to_string(),
            }),
        );
    }
    serde_json::json!({ "return": [m] }).to_string()
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let pool = common::bench_db(dir.path()).await;
    let mut out = String::new();

    // Ingest of 10,000 jobs: cold (all new) and warm (all seen again, as the next poll does).
    let body = list_jobs_body(10_000, 24, 0);
    let t = Instant::now();
    let v = halite::salt::replies::first_return(&body).unwrap();
    let jobs = halite::salt::replies::parse_list_jobs(v).unwrap();
    let parse = t.elapsed();
    let t = Instant::now();
    let (rows, skipped) = ingest::rows_from_list_jobs(&jobs);
    let pure = t.elapsed();
    assert_eq!(skipped, 0);
    let t = Instant::now();
    let new = store::upsert_jobs(&pool, &rows, chrono::Utc::now())
        .await
        .unwrap();
    let cold = t.elapsed();
    assert_eq!(new, rows.len() as u64);
    let t = Instant::now();
    store::upsert_jobs(&pool, &rows, chrono::Utc::now())
        .await
        .unwrap();
    let warm = t.elapsed();
    out.push_str(&format!(
        "Ingest of one `jobs.list_jobs` reply with 10,000 jobs ({:.1} MB):\n\n| step | time |\n|---|---|\n| parse reply | {} |\n| pure ingest (JID parse, rows) | {} |\n| upsert, all new (one transaction, 500-row statements) | {} |\n| upsert, all seen before (next poll) | {} |\n| total, cold | {} |\n\n",
        body.len() as f64 / 1e6,
        ms(parse), ms(pure), ms(cold), ms(warm), ms(parse + pure + cold)
    ));

    // Fill to 100,000 jobs over 90 days.
    for k in 1..10u64 {
        let b = list_jobs_body(10_000, 24 * 90, k * 7919);
        let v = halite::salt::replies::first_return(&b).unwrap();
        let (rows, _) =
            ingest::rows_from_list_jobs(&halite::salt::replies::parse_list_jobs(v).unwrap());
        store::upsert_jobs(&pool, &rows, chrono::Utc::now())
            .await
            .unwrap();
    }
    let (total, active): (i64, Vec<String>) = halite::with_db!(&pool, p => {
        sqlx::query("ANALYZE").execute(p).await.unwrap();
        (
            sqlx::query_scalar("SELECT count(*) FROM jobs_index")
                .fetch_one(p)
                .await
                .unwrap(),
            sqlx::query_scalar("SELECT jid FROM jobs_index ORDER BY started_at DESC LIMIT 40")
                .fetch_all(p)
                .await
                .unwrap(),
        )
    });
    let base = store::JobQuery {
        search: None,
        function: None,
        status: None,
        include_system: false,
        page: 1,
        per_page: 50,
        allowed_globs: None,
    };
    let cases: Vec<(&str, store::JobQuery)> = vec![
        ("first page (50, system hidden)", base.clone()),
        (
            "first page, include system",
            store::JobQuery {
                include_system: true,
                ..base.clone()
            },
        ),
        (
            "search `state.apply`",
            store::JobQuery {
                search: Some("state.apply".into()),
                ..base.clone()
            },
        ),
        (
            "status running (40 active JIDs)",
            store::JobQuery {
                status: Some(halite::model::jobs::JobStatus::Running),
                ..base.clone()
            },
        ),
        (
            "page 1000 (deep paging)",
            store::JobQuery {
                page: 1000,
                ..base.clone()
            },
        ),
        (
            "per-resource role (`job:2026*`)",
            store::JobQuery {
                allowed_globs: Some(vec!["job:2026*".into()]),
                ..base.clone()
            },
        ),
    ];
    out.push_str(&format!(
        "Jobs page query (`store::list`: count + page, the whole server-side work of `jobs/list`) at {total} indexed jobs, 100 runs each, beside the bare SQL that fetches the same rows (no count):\n\n| query | mean | p95 | bare SQL mean | ratio | throughput (1 connection) |\n|---|---|---|---|---|---|\n"
    ));
    let active_sql = active
        .iter()
        .map(|j| format!("'{j}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let bare_sql = |name: &str| -> String {
        let cond = match name {
            n if n.starts_with("first page, include") => "1 = 1".to_string(),
            n if n.starts_with("search") => {
                "NOT is_system AND search_text LIKE '%state.apply%'".to_string()
            }
            n if n.starts_with("status") => format!("NOT is_system AND jid IN ({active_sql})"),
            n if n.starts_with("per-resource") => "NOT is_system AND jid LIKE '2026%'".to_string(),
            _ => "NOT is_system".to_string(),
        };
        let offset = if name.starts_with("page 1000") {
            49_950
        } else {
            0
        };
        format!(
            "SELECT jid, function, target, target_type, salt_user, started_at FROM jobs_index \
             WHERE {cond} ORDER BY started_at DESC, jid DESC LIMIT 50 OFFSET {offset}"
        )
    };
    for (name, q) in cases {
        let mut times = vec![];
        let start = Instant::now();
        for _ in 0..100 {
            let t = Instant::now();
            let (rows, n, _) = store::list(&pool, &q, &active).await.unwrap();
            assert!(n > 0 && !rows.is_empty(), "{name}");
            times.push(t.elapsed());
        }
        let wall = start.elapsed();
        times.sort();
        let mean = times.iter().sum::<Duration>() / times.len() as u32;
        let p95 = times[times.len() * 95 / 100];
        let bare = common::bare_sql_mean(&pool, &bare_sql(name), 100).await;
        out.push_str(&format!(
            "| {name} | {:.2} ms | {:.2} ms | {:.2} ms | {:.1}x | {:.0} req/s |\n",
            mean.as_secs_f64() * 1000.0,
            p95.as_secs_f64() * 1000.0,
            bare.as_secs_f64() * 1000.0,
            mean.as_secs_f64() / bare.as_secs_f64(),
            100.0 / wall.as_secs_f64()
        ));
    }
    let section = format!(
        "<!-- bench_jobs:start -->\n## Jobs at scale (`cargo run --release --features ssr --example bench_jobs`)\n\nMeasured {} on this machine (2 cores), SQLite in WAL mode on local disk.\n\n{}\n<!-- bench_jobs:end -->",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        out
    );
    common::write_section("bench_jobs", &section);
}
