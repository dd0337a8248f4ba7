//! What the benchmark programs share: the simulator child process, a client for it, reading
//! memory figures, timing a query and formatting its spread, and writing a program's section of
//! BENCHMARKS.md.
#![allow(dead_code)]

pub mod server;

use halite::salt::{SaltClient, SaltConfig};
use std::io::{BufRead, Read, Write};
use std::time::{Duration, Instant};

/// A `/proc/self/status` figure given in kB (`VmHWM:`, `VmRSS:`), in MB.
pub fn proc_status_mb(key: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with(key)).map(|l| {
                l.split_whitespace()
                    .nth(1)
                    .unwrap_or("0")
                    .parse::<f64>()
                    .unwrap_or(0.0)
            })
        })
        .unwrap_or(0.0)
        / 1024.0
}

/// The process's peak RSS so far, in MB.
pub fn peak_rss_mb() -> f64 {
    proc_status_mb("VmHWM:")
}

/// The Postgres cluster a benchmark runs on instead of SQLite: set by
/// `scripts/with-postgres.sh` (`HALITE_PG_DURABLE=1` for production durability settings).
pub fn pg_admin_url() -> Option<String> {
    std::env::var("HALITE_TEST_PG_URL").ok()
}

/// The database URL for one benchmark run: a SQLite file in `dir`, or a new database in the
/// Postgres cluster when run under `scripts/with-postgres.sh`.
pub async fn db_url(dir: &std::path::Path) -> String {
    use sqlx::Connection;
    let Some(admin) = pg_admin_url() else {
        return format!("sqlite://{}/bench.db?mode=rwc", dir.display());
    };
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let name = format!(
        "bench_{}_{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let base = admin.rsplit_once('/').unwrap().0;
    format!("{base}/{name}")
}

/// A migrated database for one benchmark run (see [`db_url`]).
pub async fn bench_db(dir: &std::path::Path) -> halite::server::db::Db {
    halite::server::db::connect(&db_url(dir).await)
        .await
        .unwrap()
}

/// Put `section` (which starts with `<!-- name:start -->` and ends with `<!-- name:end -->`)
/// into BENCHMARKS.md in place of the program's previous section, or at the end; and print it.
/// On Postgres the section is `name-postgres`, placed after the SQLite one, with its heading
/// and setup line saying so.
pub fn write_section(name: &str, section: &str) {
    let sqlite_end = format!("<!-- {name}:end -->");
    let (name, section) = if pg_admin_url().is_some() {
        let pg = format!("{name}-postgres");
        let section = section
            .replace(&format!("<!-- {name}:"), &format!("<!-- {pg}:"))
            .replacen("`cargo run", "`scripts/with-postgres.sh cargo run", 1)
            .replacen(")\n", ") on Postgres\n", 1)
            .replace(
                "SQLite in WAL mode on local disk",
                "Postgres 15 on local disk (a throwaway cluster with the default durability: fsync and synchronous_commit on)",
            );
        (pg, section)
    } else {
        (name.to_string(), section.to_string())
    };
    let (name, section) = (name.as_str(), section.as_str());
    let (start, end) = (
        format!("<!-- {name}:start -->"),
        format!("<!-- {name}:end -->"),
    );
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("BENCHMARKS.md");
    let old = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        "# Benchmarks\n\nFigures written by the benchmark programs; re-run them to refresh.\n\n"
            .into()
    });
    let new = match (old.find(&start), old.find(&end), old.find(&sqlite_end)) {
        (Some(a), Some(b), _) => format!("{}{}{}", &old[..a], section, &old[b + end.len()..]),
        // A Postgres section goes right after its SQLite twin.
        (_, _, Some(c)) if end != sqlite_end => {
            let at = c + sqlite_end.len();
            format!("{}\n\n{}{}", &old[..at], section, &old[at..])
        }
        _ => format!("{old}\n{section}\n"),
    };
    std::fs::write(&path, new).unwrap();
    println!("{section}");
}

/// The simulator child of a benchmark: serve `cfg` on a free port, print `LISTEN <url>` and
/// serve until stdin closes (the parent ended), then exit.
pub fn serve_sim_child(cfg: salt_sim::SimConfig) -> ! {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = tokio::task::spawn_blocking(move || salt_sim::router(cfg))
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

/// Start this program again as the simulator child (`env` set) and read its URL, so that the
/// peak RSS the parent measures is Halite's alone.
pub fn spawn_sim_child(env: &str) -> (std::process::Child, String) {
    let mut sim = std::process::Command::new(std::env::current_exe().unwrap())
        .env(env, "1")
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
    (sim, url)
}

/// A client for the simulator's `halite` user.
pub fn client(url: &str) -> SaltClient {
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
pub fn peak_rss_of(pid: u32) -> f64 {
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
pub fn mem_total_gb() -> f64 {
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
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

pub fn dir_mb(dir: &std::path::Path) -> f64 {
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
pub fn spread(mut v: Vec<Duration>) -> (Duration, Duration, Duration) {
    v.sort();
    (v[0], v[v.len() / 2], v[v.len() - 1])
}

pub fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms >= 100.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.2} ms")
    }
}

pub fn row3(name: &str, v: Vec<Duration>) -> String {
    let (lo, mid, hi) = spread(v);
    format!("| {name} | {} | {} | {} |\n", ms(lo), ms(mid), ms(hi))
}

/// Time `f` `runs` times (after one warm-up call).
pub async fn time_query<F, Fut>(runs: usize, mut f: F) -> Vec<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    f().await;
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        f().await;
        times.push(t.elapsed());
    }
    times
}

/// Mean time of `runs` runs of `sql`, the bare query a list page is measured beside (each run
/// must fetch rows).
pub async fn bare_sql_mean(db: &halite::server::db::Db, sql: &str, runs: u32) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..runs {
        let t = Instant::now();
        let n = halite::with_db!(db, p => sqlx::query(sql).fetch_all(p).await.unwrap().len());
        assert!(n > 0, "{sql}");
        total += t.elapsed();
    }
    total / runs
}

/// CPU time this process has used (user + system, all threads), in seconds.
pub fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the `(comm)`: state is field 3, utime 14, stime 15 (clock ticks, 100/s).
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// CPU time the whole machine has been busy (all cores, all processes), in seconds.
pub fn machine_busy_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let f: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is counted in user).
    let get = |i: usize| f.get(i).copied().unwrap_or(0.0);
    (get(0) + get(1) + get(2) + get(5) + get(6) + get(7)) / 100.0
}

/// CPU time (user + system, seconds) of this process's live threads whose name starts with each
/// of `prefixes`, in that order. Threads take their runtime's `thread_name`, so one process
/// holding several runtimes can tell them apart; a thread that already ended is not counted.
#[allow(dead_code)]
pub fn cpu_secs_of_threads(prefixes: &[&str]) -> Vec<f64> {
    let mut out = vec![0.0; prefixes.len()];
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for t in tasks.flatten() {
        let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let name = head.split_once('(').map(|(_, n)| n).unwrap_or("");
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        if let Some(i) = prefixes.iter().position(|p| name.starts_with(p)) {
            out[i] += (ticks(11) + ticks(12)) / 100.0;
        }
    }
    out
}
