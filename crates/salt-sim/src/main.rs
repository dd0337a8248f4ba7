//! `salt-sim`: a salt-api (rest_cherrypy) simulator with thousands of synthetic minions, for
//! scale-testing Halite without a Salt master.
//!
//! ```text
//! salt-sim [--minions N] [--port P] [--host H] [--pending K] [--rejected R] [--offline F]
//!          [--seed S] [--user U] [--password PW] [--grains-bytes B] [--packages N]
//! ```

use salt_sim::{self as sim, SimConfig};
use std::future::IntoFuture;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::time::Instant;

const USAGE: &str = "usage: salt-sim [--minions N] [--port P] [--host H] [--pending K] \
[--rejected R] [--offline F] [--seed S] [--user U] [--password PW] [--grains-bytes B]
[--packages N]

A salt-api (rest_cherrypy) simulator. Defaults: 10000 minions (20 pending, 5 rejected),
5% offline, seed 42, user halite / password sim-pw (any eauth), 127.0.0.1:18100,
~1500 packages a minion.";

struct Cli {
    cfg: SimConfig,
    host: IpAddr,
    port: u16,
}

fn value<T: std::str::FromStr>(flag: &str, v: Option<String>) -> Result<T, String> {
    let v = v.ok_or_else(|| format!("{flag} needs a value"))?;
    v.parse()
        .map_err(|_| format!("invalid value for {flag}: {v:?}"))
}

fn parse(args: impl Iterator<Item = String>) -> Result<Option<Cli>, String> {
    let mut cli = Cli {
        cfg: SimConfig::default(),
        host: IpAddr::from([127, 0, 0, 1]),
        port: 18100,
    };
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        // Accept both `--flag value` and `--flag=value`.
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut next = || inline.clone().or_else(|| args.next());
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--minions" => cli.cfg.minions = value(&flag, next())?,
            "--pending" => cli.cfg.pending = value(&flag, next())?,
            "--rejected" => cli.cfg.rejected = value(&flag, next())?,
            "--offline" => {
                let f: f64 = value(&flag, next())?;
                if !(0.0..=1.0).contains(&f) {
                    return Err("--offline must be between 0 and 1".into());
                }
                cli.cfg.offline_fraction = f;
            }
            "--seed" => cli.cfg.seed = value(&flag, next())?,
            "--user" => cli.cfg.username = value(&flag, next())?,
            "--password" => cli.cfg.password = value(&flag, next())?,
            "--grains-bytes" => cli.cfg.grains_bytes = value(&flag, next())?,
            "--packages" => cli.cfg.packages = value(&flag, next())?,
            "--host" => cli.host = value(&flag, next())?,
            "--port" => cli.port = value(&flag, next())?,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Some(cli))
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = match parse(std::env::args().skip(1)) {
        Ok(Some(c)) => c,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("salt-sim: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let addr = SocketAddr::new(cli.host, cli.port);
    let minions = cli.cfg.minions;
    let started = Instant::now();
    let app = match tokio::task::spawn_blocking(move || sim::router(cli.cfg)).await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("salt-sim: building the fleet failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("salt-sim: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let url_host = match cli.host {
        IpAddr::V6(h) => format!("[{h}]"),
        IpAddr::V4(h) => h.to_string(),
    };
    println!(
        "salt-sim listening on http://{url_host}:{} ({minions} minions)",
        cli.port
    );
    eprintln!(
        "salt-sim: fleet built in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    // No graceful drain: `/events` streams never end on their own.
    tokio::select! {
        r = axum::serve(listener, app).into_future() => {
            if let Err(e) = r {
                eprintln!("salt-sim: {e}");
                return ExitCode::FAILURE;
            }
        }
        _ = sim::shutdown_signal() => eprintln!("salt-sim: stopping"),
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> impl Iterator<Item = String> + '_ {
        s.split_whitespace().map(String::from)
    }

    #[test]
    fn flags() {
        let c = parse(args(
            "--minions 50 --port=9000 --host 0.0.0.0 --offline 0.5 --seed 7 --packages=300",
        ))
        .unwrap()
        .unwrap();
        assert_eq!(c.cfg.minions, 50);
        assert_eq!(c.port, 9000);
        assert_eq!(c.host.to_string(), "0.0.0.0");
        assert_eq!(c.cfg.seed, 7);
        assert_eq!(c.cfg.packages, 300);
        assert!(parse(args("--offline 2")).is_err());
        assert!(parse(args("--minions")).is_err());
        assert!(parse(args("--bogus")).is_err());
        assert!(parse(args("--help")).unwrap().is_none());
    }
}
