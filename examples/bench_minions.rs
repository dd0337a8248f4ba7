//! Benchmarks for the minion pipeline at fleet scale, against the salt-api simulator:
//! reconcile time and peak RSS (1k and 10k minions), and minions-page server time and
//! throughput at 10k. Writes its figures to BENCHMARKS.md (section between markers).
//!
//! `cargo run --release --features ssr --example bench_minions`

mod common;

use halite::salt::{SaltClient, SaltConfig};
use halite::server::minions::{poller, store};
use std::time::{Duration, Instant};

async fn start_sim(n: usize) -> String {
    let cfg = salt_sim::SimConfig {
        minions: n,
        ..Default::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = salt_sim::router(cfg);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn client(url: &str) -> SaltClient {
    SaltClient::new(SaltConfig {
        url: url.into(),
        username: "halite".into(),
        password: "sim-pw".into(),
        eauth: "file".into(),
        verify_tls: true,
        timeout: Duration::from_secs(120),
    })
    .unwrap()
}

async fn db() -> (halite::server::db::Db, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    (common::bench_db(dir.path()).await, dir)
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() {
    let mut out = String::new();
    out.push_str("| fleet | keys poll (cold) | presence poll | grains poll (cold, ~5 KB/minion) | grains poll (unchanged) | keys poll (warm) | presence poll (warm) | peak RSS after | database size after |\n|---|---|---|---|---|---|---|---|---|\n");
    let mut db10k = None;
    for n in [1_000usize, 10_000] {
        let url = start_sim(n).await;
        let c = client(&url);
        c.login().await.unwrap();
        let (pool, dir) = db().await;
        let t = Instant::now();
        poller::poll_keys(&c, &pool).await.unwrap();
        let keys = t.elapsed();
        let t = Instant::now();
        poller::poll_presence(&c, &pool).await.unwrap();
        let presence = t.elapsed();
        let t = Instant::now();
        poller::poll_grains(&c, &pool).await.unwrap();
        let grains = t.elapsed();
        let t = Instant::now();
        let s = poller::poll_grains(&c, &pool).await.unwrap();
        let grains_warm = t.elapsed();
        assert!(s.ends_with("0 changed"), "{s}");
        let t = Instant::now();
        poller::poll_keys(&c, &pool).await.unwrap();
        let keys_warm = t.elapsed();
        let t = Instant::now();
        poller::poll_presence(&c, &pool).await.unwrap();
        let presence_warm = t.elapsed();
        let size = halite::server::db::size_bytes(&pool).await.unwrap_or(0);
        out.push_str(&format!(
            "| {n} | {} | {} | {} | {} | {} | {} | {:.0} MB | {:.1} MB |\n",
            ms(keys),
            ms(presence),
            ms(grains),
            ms(grains_warm),
            ms(keys_warm),
            ms(presence_warm),
            common::peak_rss_mb(),
            size as f64 / 1e6
        ));
        if n == 10_000 {
            db10k = Some((pool, dir));
        }
    }
    let (pool, _dir) = db10k.unwrap();
    out.push_str("\nMinions page query (`store::list`, the whole server-side work of `minions/list`: the page and its counts) at 10,000 minions, 200 runs each, beside the bare SQL that fetches the same rows (no counts, no row mapping):\n\n| query | mean | p95 | bare SQL mean | ratio | throughput (1 connection) |\n|---|---|---|---|---|---|\n");
    const COLS: &str =
        "SELECT minion_id, status, primary_ip, os, osrelease, saltversion, num_cpus, \
         mem_total_mb, virtual_type, keys_refreshed_at, presence_refreshed_at, grains_refreshed_at \
         FROM minion_snapshots";
    let bare_sql = |name: &str| -> String {
        let tail = match name {
            n if n.starts_with("first") => "ORDER BY minion_id LIMIT 50",
            n if n.starts_with("search") => {
                "WHERE search_text LIKE '%web%' ORDER BY minion_id LIMIT 50"
            }
            n if n.starts_with("last") => "ORDER BY minion_id LIMIT 50 OFFSET 9950",
            n if n.starts_with("status") => {
                "WHERE status = 'offline' ORDER BY os DESC, minion_id DESC LIMIT 100"
            }
            _ => "WHERE minion_id LIKE 'sim-web-%' ORDER BY minion_id LIMIT 50",
        };
        format!("{COLS} {tail}")
    };
    let cases: Vec<(&str, store::ListQuery)> = vec![
        (
            "first page (50, by id)",
            store::ListQuery {
                page: 1,
                per_page: 50,
                ..Default::default()
            },
        ),
        (
            "search `web` (50)",
            store::ListQuery {
                search: "web".into(),
                page: 1,
                per_page: 50,
                ..Default::default()
            },
        ),
        (
            "last page (50)",
            store::ListQuery {
                page: 200,
                per_page: 50,
                ..Default::default()
            },
        ),
        (
            "status=offline, sort by OS desc (100)",
            store::ListQuery {
                status: Some(halite::model::minions::MinionStatus::Offline),
                sort: "os".into(),
                descending: true,
                page: 1,
                per_page: 100,
                ..Default::default()
            },
        ),
        (
            "per-resource role (`minion:sim-web-*`)",
            store::ListQuery {
                page: 1,
                per_page: 50,
                allowed_globs: Some(vec!["minion:sim-web-*".into()]),
                ..Default::default()
            },
        ),
    ];
    for (name, q) in cases {
        let mut times = vec![];
        let start = Instant::now();
        for _ in 0..200 {
            let t = Instant::now();
            let (rows, total, _) = store::list(&pool, &q).await.unwrap();
            assert!(total > 0 && !rows.is_empty(), "{name}");
            times.push(t.elapsed());
        }
        let wall = start.elapsed();
        times.sort();
        let mean = times.iter().sum::<Duration>() / times.len() as u32;
        let p95 = times[times.len() * 95 / 100];
        let bare = common::bare_sql_mean(&pool, &bare_sql(name), 200).await;
        out.push_str(&format!(
            "| {name} | {} | {} | {} | {:.1}x | {:.0} req/s |\n",
            format_args!("{:.2} ms", mean.as_secs_f64() * 1000.0),
            format_args!("{:.2} ms", p95.as_secs_f64() * 1000.0),
            format_args!("{:.2} ms", bare.as_secs_f64() * 1000.0),
            mean.as_secs_f64() / bare.as_secs_f64(),
            200.0 / wall.as_secs_f64()
        ));
    }
    // The Minions export (`GET /api/minions/export.*`'s server work): every minion with its
    // main facts, through the same cursor, encoder and channel as the handler.
    out.push_str("\nMinions export at 10,000 minions (`store::export` through `server::export::stream`, every row, the whole file collected), median of 5:\n\n| format | time | rows/s | size |\n|---|---|---|---|\n");
    for format in [
        halite::server::export::ExportFormat::Csv,
        halite::server::export::ExportFormat::Json,
        halite::server::export::ExportFormat::Ndjson,
    ] {
        use futures::StreamExt;
        use halite::server::export::ExportRow;
        let mut times = vec![];
        let mut bytes = 0;
        for _ in 0..5 {
            let (db, q) = (pool.clone(), store::ListQuery::default());
            let t = Instant::now();
            let mut file = std::pin::pin!(halite::server::export::stream(
                format,
                halite::model::minions::MinionRow::COLUMNS,
                "bench",
                move |sink| async move { store::export(&db, &q, sink).await },
            ));
            bytes = 0;
            while let Some(chunk) = file.next().await {
                bytes += chunk.unwrap().len();
            }
            times.push(t.elapsed());
        }
        times.sort();
        let median = times[times.len() / 2];
        out.push_str(&format!(
            "| {} | {} | {:.0} | {:.1} MB |\n",
            format.extension(),
            ms(median),
            10_000.0 / median.as_secs_f64(),
            bytes as f64 / 1e6
        ));
    }
    // The command palette's minion suggestions (`palette/search`'s query): a prefix, 8 ids.
    out.push_str("\nCommand palette minion suggestions at 10,000 minions (`store::id_prefix`, 8 ids), 200 runs each:\n\n| prefix | scope | mean | p99 |\n|---|---|---|---|\n");
    for (prefix, globs) in [
        ("sim-", None),
        ("sim-web-01", None),
        ("SIM-DB-0099", None),
        ("nothing-like-this", None),
        ("sim-", Some(vec!["minion:sim-db-*".to_string()])),
    ] {
        let mut times = vec![];
        for _ in 0..200 {
            let t = Instant::now();
            let ids = store::id_prefix(&pool, prefix, &globs, 8).await.unwrap();
            assert!(ids.len() <= 8);
            times.push(t.elapsed());
        }
        times.sort();
        let mean = times.iter().sum::<Duration>() / times.len() as u32;
        out.push_str(&format!(
            "| `{prefix}` | {} | {:.2} ms | {:.2} ms |\n",
            if globs.is_some() {
                "`view:minion:sim-db-*`"
            } else {
                "all"
            },
            mean.as_secs_f64() * 1000.0,
            times[times.len() * 99 / 100].as_secs_f64() * 1000.0
        ));
    }
    let section = format!(
        "<!-- bench_minions:start -->\n## Minions at scale (`cargo run --release --features ssr --example bench_minions`)\n\nMeasured {} on this machine (2 cores), SQLite in WAL mode on local disk, salt-api simulator in-process.\n\n{}\n<!-- bench_minions:end -->",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        out
    );
    common::write_section("bench_minions", &section);
}
