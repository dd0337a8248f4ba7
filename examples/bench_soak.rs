//! Memory soak (issue 17, target 5): Halite at 10,000 simulated minions with every poller and
//! the event stream on, an hour of activity compressed six times in time, and Halite's RSS
//! sampled all along. Writes its figures to BENCHMARKS.md (section between markers).
//!
//! `cargo run --release --features ssr --example bench_soak` (`HALITE_SOAK_MINUTES` sets the
//! soak's wall minutes, 10 by default: 60 simulated minutes).
//!
//! Three processes: this one is Halite alone (its RSS is what is reported), the salt-api
//! simulator is a child, and the visitors (browsers reading pages and holding live streams) are
//! another child.

mod common;

use halite::salt::LocalRequest;
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

const FLEET: usize = 10_000;
/// Every cadence is the default divided by this.
const COMPRESS: u64 = 6;
/// A `test.ping` on `*` this often (a ping a minute, compressed).
const PING_EVERY: Duration = Duration::from_secs(60 / COMPRESS);
/// A `state.apply` on the database servers (~1,200 minions) this often.
const APPLY_EVERY: Duration = Duration::from_secs(120);
const SAMPLE_EVERY: Duration = Duration::from_secs(10);
const SSE_CLIENTS: usize = 20;
const READERS: usize = 4;
const SIM_CHILD: &str = "HALITE_BENCH_SOAK_SIM";
const VISITORS_CHILD: &str = "HALITE_BENCH_SOAK_VISITORS";

#[derive(Debug, Default, Serialize, Deserialize)]
struct Visits {
    pages: u64,
    page_errors: u64,
    frames: u64,
    stream_errors: u64,
}

/// The visitors child: `SSE_CLIENTS` live streams read to the end of every frame and `READERS`
/// browsers paging through Minions and Jobs (a request every 250 ms each), until stdin closes;
/// then `RESULT {json}`.
fn visitors_child(base: String, cookie: String) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let v = Arc::new([
        AtomicU64::new(0),
        AtomicU64::new(0),
        AtomicU64::new(0),
        AtomicU64::new(0),
    ]);
    rt.block_on(async {
        let http = reqwest::Client::new();
        for _ in 0..SSE_CLIENTS {
            let (http, base, cookie, v) = (http.clone(), base.clone(), cookie.clone(), v.clone());
            tokio::spawn(async move {
                use futures::StreamExt;
                loop {
                    let r = http
                        .get(format!("{base}/api/activity/stream"))
                        .header("Cookie", &cookie)
                        .header("Accept", "text/event-stream")
                        .send()
                        .await;
                    let Ok(r) = r.and_then(|r| r.error_for_status()) else {
                        v[3].fetch_add(1, Relaxed);
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    };
                    let mut body = r.bytes_stream();
                    while let Some(Ok(chunk)) = body.next().await {
                        let n = chunk.windows(2).filter(|w| w == b"\n\n").count();
                        v[2].fetch_add(n as u64, Relaxed);
                    }
                }
            });
        }
        for i in 0..READERS {
            let (http, base, cookie, v) = (http.clone(), base.clone(), cookie.clone(), v.clone());
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_millis(250));
                for n in 0u64.. {
                    tick.tick().await;
                    let page = (n * 7 + i as u64) % 200 + 1;
                    let req = match n % 4 {
                        0 => http.get(format!("{base}/minions")),
                        1 => http.get(format!("{base}/jobs")),
                        2 => http
                            .post(format!("{base}/api/minions/list"))
                            .body(format!("page={page}&per_page=50")),
                        _ => http
                            .post(format!("{base}/api/jobs/list"))
                            .body(format!("page={}&per_page=50", page % 20 + 1)),
                    };
                    let ok = req
                        .header("Cookie", &cookie)
                        .header("Origin", &base)
                        .header("Content-Type", "application/x-www-form-urlencoded")
                        .send()
                        .await
                        .and_then(|r| r.error_for_status());
                    let ok = match ok {
                        Ok(r) => r.bytes().await.is_ok(),
                        Err(_) => false,
                    };
                    v[usize::from(!ok)].fetch_add(1, Relaxed);
                }
            });
        }
        tokio::task::spawn_blocking(|| {
            let mut sink = [0u8; 64];
            while std::io::stdin().read(&mut sink).is_ok_and(|n| n > 0) {}
        })
        .await
        .unwrap();
    });
    let r = Visits {
        pages: v[0].load(Relaxed),
        page_errors: v[1].load(Relaxed),
        frames: v[2].load(Relaxed),
        stream_errors: v[3].load(Relaxed),
    };
    println!("RESULT {}", serde_json::to_string(&r).unwrap());
    std::io::stdout().flush().unwrap();
    std::process::exit(0);
}

struct Sample {
    at: Duration,
    rss_mb: f64,
    cpu_secs: f64,
    activity: i64,
    runs: i64,
    db_mb: f64,
}

struct Soak {
    samples: Vec<Sample>,
    ready: Duration,
    rss_ready_mb: f64,
    visits: Visits,
    minutes: u64,
}

async fn parent(minutes: u64) -> Soak {
    let (mut sim, sim_url) = common::spawn_sim_child(SIM_CHILD);
    let t0 = Instant::now();
    let h = common::server::serve_halite(&sim_url, |p| {
        // The defaults (keys 300 s, presence 60 s, grains 300 s, jobs 60 s, fleet 120 s,
        // inventory 360 min), six times faster; inventory every 5 minutes so that its
        // steady-state refresh runs inside the soak too.
        p.event_stream_enabled = true;
        p.minion_state_initial_delay_seconds = 0;
        p.minion_state_keys_interval_seconds = 300 / COMPRESS as i64;
        p.minion_state_presence_interval_seconds = 60 / COMPRESS as i64;
        p.minion_state_grains_interval_seconds = 300 / COMPRESS as i64;
        p.jobs_poll_interval_seconds = 60 / COMPRESS as i64;
        p.fleet_poll_interval_seconds = 120 / COMPRESS as i64;
        p.inventory_refresh_minutes = 5;
        p.inventory_refresh_initial_delay_s = 5;
    })
    .await;
    common::server::wait_stream(&h.state).await;
    let accepted = (FLEET - 25) as i64;
    common::server::wait_rows(&h.db, "minion_grains", accepted, Duration::from_secs(600)).await;
    // The first full inventory collection (~9,450 online minions answer).
    common::server::wait_rows(
        &h.db,
        "inventory_minions",
        accepted * 9 / 10,
        Duration::from_secs(1200),
    )
    .await;
    common::server::wait_poller(&h.state, "fleet.ingest", Duration::from_secs(900)).await;
    let ready = t0.elapsed();
    let rss_ready_mb = common::proc_status_mb("VmRSS:");
    eprintln!("bench_soak: ready after {ready:?}, RSS {rss_ready_mb:.0} MB");

    let salt = common::client(&sim_url);
    salt.login().await.unwrap();
    let activity = tokio::spawn(async move {
        let ping = LocalRequest::simple("*", "glob", "test.ping");
        let apply = LocalRequest::simple("sim-db-*", "glob", "state.apply");
        let mut last_apply: Option<Instant> = None;
        let mut tick = tokio::time::interval(PING_EVERY);
        loop {
            tick.tick().await;
            salt.local_async(&ping).await.unwrap().expect("job started");
            if last_apply.is_none_or(|t| t.elapsed() >= APPLY_EVERY) {
                salt.local_async(&apply)
                    .await
                    .unwrap()
                    .expect("job started");
                last_apply = Some(Instant::now());
            }
        }
    });
    let mut visitors = std::process::Command::new(std::env::current_exe().unwrap())
        .env(VISITORS_CHILD, format!("{} {}", h.base, h.cookie))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap();

    let start = Instant::now();
    let end = Duration::from_secs(minutes * 60);
    let mut samples = Vec::new();
    let mut tick = tokio::time::interval(SAMPLE_EVERY);
    loop {
        tick.tick().await;
        let s = Sample {
            at: start.elapsed(),
            rss_mb: common::proc_status_mb("VmRSS:"),
            cpu_secs: common::cpu_secs(),
            activity: common::server::count(&h.db, "activity_events").await,
            runs: common::server::count(&h.db, "highstate_runs").await,
            db_mb: common::dir_mb(h.dir.path()),
        };
        eprintln!(
            "bench_soak: {:>4.0} s RSS {:.0} MB, {} activity rows, {} runs",
            s.at.as_secs_f64(),
            s.rss_mb,
            s.activity,
            s.runs
        );
        let done = s.at >= end;
        samples.push(s);
        if done {
            break;
        }
    }
    activity.abort();
    drop(visitors.stdin.take());
    let mut out = String::new();
    visitors
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    visitors.wait().unwrap();
    let visits = out
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .map(|l| serde_json::from_str(l).unwrap())
        .expect("the visitors' RESULT line");
    let _ = sim.kill();
    Soak {
        samples,
        ready,
        rss_ready_mb,
        visits,
        minutes,
    }
}

/// The sample nearest to `at`.
fn at(samples: &[Sample], at: Duration) -> &Sample {
    samples
        .iter()
        .min_by_key(|s| s.at.abs_diff(at))
        .expect("samples")
}

fn main() {
    if std::env::var(SIM_CHILD).is_ok() {
        common::serve_sim_child(salt_sim::SimConfig {
            minions: FLEET,
            ..Default::default()
        });
    }
    if let Ok(v) = std::env::var(VISITORS_CHILD) {
        let (base, cookie) = v.split_once(' ').expect("base and cookie");
        visitors_child(base.into(), cookie.into());
    }
    let minutes = std::env::var("HALITE_SOAK_MINUTES").map_or(10, |m| m.parse().expect("minutes"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let s = rt.block_on(parent(minutes));

    let total = Duration::from_secs(s.minutes * 60);
    // The simulated 10th minute, and the end.
    let (from, to) = (
        at(&s.samples, total / 6),
        s.samples.last().expect("samples"),
    );
    let peak = s.samples.iter().map(|x| x.rss_mb).fold(0.0, f64::max);
    let (late_min, late_max) = s
        .samples
        .iter()
        .filter(|x| x.at >= from.at)
        .fold((f64::MAX, 0.0f64), |(lo, hi), x| {
            (lo.min(x.rss_mb), hi.max(x.rss_mb))
        });
    let cores = (to.cpu_secs - s.samples[0].cpu_secs) / (to.at - s.samples[0].at).as_secs_f64();

    let mut out = String::new();
    out.push_str("<!-- bench_soak:start -->\n");
    out.push_str("## Memory soak (`cargo run --release --features ssr --example bench_soak`)\n\n");
    out.push_str(&format!(
        "Measured {} on this machine ({} cores, {:.0} GB RAM), release build, SQLite in WAL mode on local disk, salt-api simulator with {FLEET} minions in a separate process, the visitors in a third.\n\n",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        common::mem_total_gb()
    ));
    out.push_str(&format!(
        "{} wall minutes = {} simulated minutes (every cadence {COMPRESS}x its default). Halite's RSS:\n\n",
        s.minutes,
        s.minutes * COMPRESS
    ));
    out.push_str("| simulated minute | wall time | Halite RSS | activity rows | highstate runs | database |\n|---|---|---|---|---|---|\n");
    for m in (0..=s.minutes * COMPRESS).step_by(10) {
        let x = at(&s.samples, Duration::from_secs(m * 60 / COMPRESS));
        out.push_str(&format!(
            "| {m} | {:.0} s | {:.0} MB | {} | {} | {:.0} MB |\n",
            x.at.as_secs_f64(),
            x.rss_mb,
            x.activity,
            x.runs,
            x.db_mb
        ));
    }
    out.push_str(&format!(
        "\n| | |\n|---|---|\n| RSS when ready (first ingest, first inventory collection and first fleet run done, {:.0} s after start) | {:.0} MB |\n| RSS at the simulated 10th minute | {:.0} MB |\n| RSS at the end | {:.0} MB |\n| growth from the 10th minute to the end | {:+.1}% |\n| lowest / highest RSS from the 10th minute on | {:.0} / {:.0} MB |\n| highest RSS sampled | {:.0} MB |\n| Halite CPU over the soak | {:.2} cores |\n| visitors: page requests (errors) | {} ({}) |\n| visitors: live frames received (stream errors) | {} ({}) |\n",
        s.ready.as_secs_f64(),
        s.rss_ready_mb,
        from.rss_mb,
        to.rss_mb,
        (to.rss_mb / from.rss_mb - 1.0) * 100.0,
        late_min,
        late_max,
        peak,
        cores,
        s.visits.pages,
        s.visits.page_errors,
        s.visits.frames,
        s.visits.stream_errors,
    ));
    out.push_str(&format!(
        "\n- Method: pollers at their defaults divided by {COMPRESS} (keys every 50 s, presence 10 s, grains 50 s, jobs 10 s, fleet 20 s) and the package inventory every 5 minutes; the event stream on; a `test.ping` on `*` every {} s and a `state.apply` on `sim-db-*` every {} s; {SSE_CLIENTS} live streams reading every frame and {READERS} readers each loading `/minions`, `/jobs` or a page of `minions/list` / `jobs/list` every 250 ms. RSS (`VmRSS`) is sampled every {} s; the soak starts once the first ingest of every minion, the first inventory collection and the fleet poller's first run (the simulator's past fleet-wide `state.apply` jobs) are stored.\n",
        PING_EVERY.as_secs(),
        APPLY_EVERY.as_secs(),
        SAMPLE_EVERY.as_secs(),
    ));
    out.push_str("<!-- bench_soak:end -->");
    common::write_section("bench_soak", &out);
}
