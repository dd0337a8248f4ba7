//! HTTP under load (issue 17, target 3): the `minions/list` server function, the server-rendered
//! `/minions` page and the activity stream (`GET /api/activity/stream`, opened until its
//! `replayed` event) at 10,000 simulated minions, each with 32 and with 256 concurrent
//! connections, while the pollers and the event stream run and a fleet-wide `test.ping` is
//! dispatched every 10 s. Writes its figures to BENCHMARKS.md (section between markers).
//!
//! `cargo run --release --features ssr --example bench_http`
//!
//! Three processes, as in production: this one is Halite alone (so its RSS and CPU are Halite's),
//! the salt-api simulator is a child, and the load generator is another child (a small reqwest
//! client: one task per connection, each sending its next request when the last answer is read
//! to the end). All three share this machine's 2 cores: the generator's CPU is reported too.

mod common;

use halite::salt::LocalRequest;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::time::{Duration, Instant};

const FLEET: usize = 10_000;
const CONNS: [usize; 2] = [32, 256];
const WARM: Duration = Duration::from_secs(2);
const RUN: Duration = Duration::from_secs(10);
/// A fleet-wide `test.ping` this often while the load runs (10,000 events each).
const PING_EVERY: Duration = Duration::from_secs(10);
const SIM_CHILD: &str = "HALITE_BENCH_HTTP_SIM";
const LOAD_CHILD: &str = "HALITE_BENCH_HTTP_LOAD";

/// What one connection asks for, again and again.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
enum Target {
    /// `POST /api/minions/list` with `per_page=50` (the Minions page's first call).
    List,
    /// `POST /api/minions/list` searching `web-01` (a substring of ids).
    Search,
    /// `GET /minions`: the whole server-rendered page with its first 50 rows.
    Page,
    /// `GET /api/activity/stream` read until the end of its replay, then closed.
    Sse,
}

impl Target {
    fn label(self) -> &'static str {
        match self {
            Target::List => "`POST /api/minions/list` (first page, 50 rows)",
            Target::Search => "`POST /api/minions/list` (search `web-01`)",
            Target::Page => "`GET /minions` (server-rendered page, 50 rows)",
            Target::Sse => "`GET /api/activity/stream` (open, replay, `replayed`, close)",
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct LoadSpec {
    base: String,
    cookie: String,
    target: Target,
    conns: usize,
}

#[derive(Debug, Serialize, Deserialize)]
struct LoadResult {
    ok: u64,
    errors: u64,
    /// The first error seen, to say what failed.
    first_error: Option<String>,
    secs: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    bytes_per_answer: f64,
    /// The generator's own CPU, in cores.
    client_cores: f64,
}

/// One request of `target`; the bytes of the answer read to the end (or to `replayed`).
async fn one(http: &reqwest::Client, s: &LoadSpec) -> Result<usize, String> {
    let req = match s.target {
        Target::List | Target::Search => http
            .post(format!("{}/api/minions/list", s.base))
            .header("Origin", &s.base)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(if s.target == Target::List {
                "per_page=50"
            } else {
                "q=web-01&per_page=50"
            }),
        Target::Page => http.get(format!("{}/minions", s.base)),
        Target::Sse => http
            .get(format!("{}/api/activity/stream", s.base))
            .header("Accept", "text/event-stream"),
    };
    let r = req
        .header("Cookie", &s.cookie)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !r.status().is_success() {
        return Err(format!("HTTP {}", r.status()));
    }
    if s.target != Target::Sse {
        return r.bytes().await.map(|b| b.len()).map_err(|e| e.to_string());
    }
    use futures::StreamExt;
    let mut body = r.bytes_stream();
    let mut seen = Vec::new();
    let mark = b"event: replayed\n";
    while let Some(chunk) = body.next().await {
        seen.extend_from_slice(&chunk.map_err(|e| e.to_string())?);
        if seen.windows(mark.len()).any(|w| w == mark) {
            return Ok(seen.len());
        }
    }
    Err("stream ended before `replayed`".into())
}

/// The load generator child: run `spec` for WARM + RUN, print `RESULT {json}`.
fn load_child(spec: LoadSpec) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let r = rt.block_on(async move {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(spec.conns)
            .tcp_nodelay(true)
            .build()
            .unwrap();
        let spec = std::sync::Arc::new(spec);
        let start = Instant::now();
        let (measure_from, end) = (start + WARM, start + WARM + RUN);
        let cpu0 = std::sync::Arc::new(std::sync::Mutex::new(None::<f64>));
        let tasks: Vec<_> = (0..spec.conns)
            .map(|_| {
                let (http, spec, cpu0) = (http.clone(), spec.clone(), cpu0.clone());
                tokio::spawn(async move {
                    let (mut lat, mut bytes, mut errors) = (Vec::new(), 0usize, 0u64);
                    let mut first_error = None;
                    loop {
                        let t = Instant::now();
                        if t >= end {
                            break;
                        }
                        let res = one(&http, &spec).await;
                        if t < measure_from {
                            continue;
                        }
                        cpu0.lock().unwrap().get_or_insert_with(common::cpu_secs);
                        match res {
                            Ok(n) => {
                                lat.push(t.elapsed().as_micros() as u32);
                                bytes += n;
                            }
                            Err(e) => {
                                errors += 1;
                                first_error.get_or_insert(e);
                            }
                        }
                    }
                    (lat, bytes, errors, first_error)
                })
            })
            .collect();
        let mut all = Vec::new();
        let (mut bytes, mut errors, mut first_error) = (0usize, 0u64, None);
        for t in tasks {
            let (l, b, e, f) = t.await.unwrap();
            all.extend(l);
            bytes += b;
            errors += e;
            first_error = first_error.or(f);
        }
        let secs = measure_from.elapsed().as_secs_f64();
        let cpu = common::cpu_secs() - cpu0.lock().unwrap().unwrap_or(0.0);
        all.sort_unstable();
        let q = |p: f64| {
            all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
                .map_or(0.0, |&us| us as f64 / 1000.0)
        };
        LoadResult {
            ok: all.len() as u64,
            errors,
            first_error,
            secs,
            p50_ms: q(0.50),
            p99_ms: q(0.99),
            max_ms: all.last().map_or(0.0, |&us| us as f64 / 1000.0),
            bytes_per_answer: bytes as f64 / all.len().max(1) as f64,
            client_cores: cpu / secs,
        }
    });
    println!("RESULT {}", serde_json::to_string(&r).unwrap());
    std::io::stdout().flush().unwrap();
}

/// Run the generator child for `spec` and read its result.
fn run_load(spec: &LoadSpec) -> LoadResult {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .env(LOAD_CHILD, serde_json::to_string(spec).unwrap())
        .stderr(std::process::Stdio::inherit())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "load generator failed: {stdout}");
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .expect("no RESULT line");
    serde_json::from_str(line).unwrap()
}

struct Row {
    target: Target,
    conns: usize,
    load: LoadResult,
    halite_cores: f64,
    machine_cores: f64,
    rss_mb: f64,
    peak_rss_mb: f64,
}

async fn parent() -> (Vec<Row>, String) {
    let (mut sim, sim_url) = common::spawn_sim_child(SIM_CHILD);
    let t0 = Instant::now();
    let h = common::server::serve_halite(&sim_url, |p| {
        p.event_stream_enabled = true;
        p.minion_state_initial_delay_seconds = 0;
        p.minion_state_keys_interval_seconds = 30;
        p.minion_state_presence_interval_seconds = 10;
        p.minion_state_grains_interval_seconds = 60;
        p.jobs_poll_interval_seconds = 10;
    })
    .await;
    common::server::wait_stream(&h.state).await;
    let accepted = (FLEET - 25) as i64;
    common::server::wait_rows(&h.db, "minion_grains", accepted, Duration::from_secs(600)).await;
    let ready = t0.elapsed();
    eprintln!("bench_http: {accepted} minions with grains after {ready:?}");
    // The fleet poller's first run looks up the simulator's past fleet-wide `state.apply` jobs
    // (~113 MB of JSON each): measured apart, not mixed into the first rows.
    let fleet =
        common::server::wait_poller(&h.state, "fleet.ingest", Duration::from_secs(900)).await;
    eprintln!(
        "bench_http: fleet poller's first run: {:?}",
        fleet.last_summary
    );
    let rss_ready = common::proc_status_mb("VmRSS:");

    // The fleet-wide ping, every PING_EVERY, for as long as the load runs.
    let salt = common::client(&sim_url);
    salt.login().await.unwrap();
    let pinger = tokio::spawn(async move {
        let req = LocalRequest::simple("*", "glob", "test.ping");
        let mut tick = tokio::time::interval(PING_EVERY);
        loop {
            tick.tick().await;
            salt.local_async(&req).await.unwrap().expect("job started");
        }
    });

    let mut rows = Vec::new();
    // `HALITE_BENCH_HTTP_ONLY=list,page` runs only those (for profiling one of them).
    let only = std::env::var("HALITE_BENCH_HTTP_ONLY").unwrap_or_default();
    let targets = [Target::List, Target::Search, Target::Page, Target::Sse]
        .into_iter()
        .filter(|t| {
            only.is_empty()
                || only
                    .split(',')
                    .any(|o| o.eq_ignore_ascii_case(&format!("{t:?}")))
        });
    for target in targets {
        for conns in CONNS {
            let spec = LoadSpec {
                base: h.base.clone(),
                cookie: h.cookie.clone(),
                target,
                conns,
            };
            common::reset_peak_rss();
            let (cpu0, busy0, t) = (
                common::cpu_secs(),
                common::machine_busy_secs(),
                Instant::now(),
            );
            let load = tokio::task::spawn_blocking(move || run_load(&spec))
                .await
                .unwrap();
            let secs = t.elapsed().as_secs_f64();
            let row = Row {
                target,
                conns,
                halite_cores: (common::cpu_secs() - cpu0) / secs,
                machine_cores: (common::machine_busy_secs() - busy0) / secs,
                rss_mb: common::proc_status_mb("VmRSS:"),
                peak_rss_mb: common::peak_rss_mb(),
                load,
            };
            eprintln!(
                "bench_http: {target:?} x{conns}: {:.0} req/s, p50 {:.1} ms, p99 {:.1} ms, {} errors",
                row.load.ok as f64 / row.load.secs,
                row.load.p50_ms,
                row.load.p99_ms,
                row.load.errors
            );
            rows.push(row);
        }
    }
    pinger.abort();
    let activity = common::server::count(&h.db, "activity_events").await;
    let setup = format!(
        "the pollers' first ingest of {accepted} accepted minions took {:.0} s; the load started after the fleet poller's first run ({}, {:.1} s), at a Halite RSS of {rss_ready:.0} MB; {activity} activity rows were stored while the load ran",
        ready.as_secs_f64(),
        fleet.last_summary.as_deref().unwrap_or("no summary"),
        fleet.last_duration_ms.unwrap_or(0) as f64 / 1000.0,
    );
    let _ = sim.kill();
    (rows, setup)
}

fn main() {
    if std::env::var(SIM_CHILD).is_ok() {
        common::serve_sim_child(salt_sim::SimConfig {
            minions: FLEET,
            ..Default::default()
        });
    }
    if let Ok(spec) = std::env::var(LOAD_CHILD) {
        load_child(serde_json::from_str(&spec).unwrap());
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (rows, setup) = rt.block_on(parent());

    let mut out = String::new();
    out.push_str("<!-- bench_http:start -->\n");
    out.push_str(
        "## HTTP under load (`cargo run --release --features ssr --example bench_http`)\n\n",
    );
    out.push_str(&format!(
        "Measured {} on this machine ({} cores, {:.0} GB RAM), release build, SQLite in WAL mode on local disk, salt-api simulator with {FLEET} minions in a separate process, the load generator in a third.\n\n",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        common::mem_total_gb()
    ));
    out.push_str("| request | connections | requests/s | p50 | p99 | max | errors | bytes/answer | Halite CPU (cores) | generator CPU | machine busy | Halite RSS (peak) |\n");
    out.push_str("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for r in &rows {
        let l = &r.load;
        out.push_str(&format!(
            "| {} | {} | {:.0} | {:.1} ms | {:.1} ms | {:.0} ms | {}{} | {:.0} | {:.2} | {:.2} | {:.2} of 2 | {:.0} MB ({:.0} MB) |\n",
            r.target.label(),
            r.conns,
            l.ok as f64 / l.secs,
            l.p50_ms,
            l.p99_ms,
            l.max_ms,
            l.errors,
            l.first_error
                .as_ref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default(),
            l.bytes_per_answer,
            r.halite_cores,
            l.client_cores,
            r.machine_cores,
            r.rss_mb,
            r.peak_rss_mb,
        ));
    }
    out.push_str(&format!(
        "\n- Method: each row runs {} s after a {} s warm-up, one task per connection sending its next request as soon as the last answer is read to its end (closed loop); requests/s and latencies count answered requests of the measured window. The admin is signed in (every request checks its session). Pollers on: keys every 30 s, presence every 10 s, grains every 60 s, jobs every 10 s; the event stream is on and a `test.ping` on `*` is dispatched every {} s ({} events each). Setup: {setup}.\n",
        RUN.as_secs(),
        WARM.as_secs(),
        PING_EVERY.as_secs(),
        FLEET,
    ));
    out.push_str("<!-- bench_http:end -->");
    common::write_section("bench_http", &out);
}
