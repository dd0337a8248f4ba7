//! Diagnostics (`/diagnostics`, `halite admin check`): checks the Salt connection from scratch
//! with a client of its own (reachability, login and token, clock, version, netapi clients,
//! eauth rights, `/events`), the pollers (when a runtime is there to ask) and the database.
//! Every check that does not pass says how to fix it. Nothing here changes anything: the Salt
//! calls are the read-only ones Halite makes anyway, and the `local*` probes target a minion id
//! that cannot exist.

use crate::model::diagnostics::{Check, Report, Verdict};
use crate::salt::{LoginInfo, SaltClient, SaltError};
use crate::server::db::{self, Db};
use crate::server::runtime::Runtime;
use crate::server::secrets::SecretsCipher;
use serde_json::Value;
use std::time::{Duration, Instant};

/// The netapi clients Halite uses (`runner_async` / `wheel_async` it does not).
pub const CLIENTS: &[&str] = &["local", "local_async", "local_batch", "runner", "wheel"];

/// The execution functions Halite itself calls on minions (Run calls whatever the user's role
/// allows on top).
pub const LOCAL_FUNCTIONS: &[&str] = &[
    "test.ping",
    "saltutil.kill_job",
    "sys.list_functions",
    "pkg.list_pkgs",
    "grains.get",
];

/// The oldest and newest Salt releases Halite is tested against (DECISIONS: 3006 LTS to 3008).
const OLDEST_SUPPORTED: u32 = 3006;
const NEWEST_TESTED: u32 = 3008;

/// Clock skew (seconds) above which a check warns, and above which it fails.
const SKEW_WARN: f64 = 5.0;
const SKEW_FAIL: f64 = 60.0;

/// A salt-api answering slower than this gets a warning.
const SLOW_API: Duration = Duration::from_millis(1000);

/// SQLite write-ahead log size above which a check warns.
const WAL_WARN_BYTES: u64 = 256 * 1024 * 1024;

/// Run every check. `runtime` is the server's (for the pollers); the CLI has none.
pub async fn run(
    db: &Db,
    secrets: &SecretsCipher,
    runtime: Option<&Runtime>,
    build: &str,
) -> Report {
    let mut checks = salt_checks(db, secrets).await;
    checks.push(pollers(runtime));
    checks.push(database(db).await);
    Report {
        at: chrono::Utc::now(),
        halite: format!("Halite {} ({build})", env!("CARGO_PKG_VERSION")),
        checks,
    }
}

fn skipped(id: &str, title: &str, why: &str) -> Check {
    Check::new(id, title, Verdict::Skip, why)
}

fn ms(d: Duration) -> String {
    format!("{} ms", d.as_millis())
}

/// The Salt checks, in order; once one fails that the rest depend on, the rest are skipped.
async fn salt_checks(db: &Db, secrets: &SecretsCipher) -> Vec<Check> {
    const LATER: &[(&str, &str)] = &[
        ("salt_api.reachable", "salt-api reachable"),
        ("salt_api.login", "Login and token"),
        ("salt.clock", "Clock skew with the master"),
        ("salt.version", "Salt version"),
        ("netapi.clients", "netapi clients enabled"),
        ("eauth.rights", "eauth rights of the service account"),
        ("salt_api.events", "Event stream (/events)"),
    ];
    let skip_from = |i: usize, why: &str| -> Vec<Check> {
        LATER[i..]
            .iter()
            .map(|(id, title)| skipped(id, title, why))
            .collect()
    };
    let mut out = vec![];
    let stored = match crate::server::settings::load_salt_connection(db, secrets).await {
        Ok(s) => s,
        Err(e) => {
            out.push(
                Check::new(
                    "salt.configured",
                    "Salt connection settings",
                    Verdict::Fail,
                    format!("cannot read the settings: {e}"),
                )
                .fix("See the database check below."),
            );
            out.extend(skip_from(0, "no settings"));
            return out;
        }
    };
    let Some(cfg) = stored.config() else {
        let measured = if stored.password_unreadable {
            "a password is stored but cannot be decrypted".to_string()
        } else {
            let mut missing = vec![];
            if stored.salt.url.is_none() {
                missing.push("URL");
            }
            if stored.salt.username.is_none() {
                missing.push("username");
            }
            if stored.salt.password.is_none() {
                missing.push("password");
            }
            format!("not configured: no {}", missing.join(", no "))
        };
        let fix = if stored.password_unreadable {
            "COOKIE_SECRET changed since the password was saved (it encrypts it): enter the \
             salt-api password again in Settings → Salt API."
        } else {
            "Settings → Salt API: enter the salt-api URL, username, password and eauth, or from \
             the command line:\n  halite admin set-salt --url https://salt:8000 --username halite \
             --eauth pam --password-stdin"
        };
        out.push(
            Check::new(
                "salt.configured",
                "Salt connection settings",
                Verdict::Fail,
                measured,
            )
            .fix(fix),
        );
        out.extend(skip_from(0, "Salt is not configured"));
        return out;
    };
    let eauth = cfg.eauth.clone();
    let username = cfg.username.clone();
    let url = cfg.url.clone();
    out.push(Check::new(
        "salt.configured",
        "Salt connection settings",
        Verdict::Pass,
        format!("{url} as {username} (eauth {eauth})"),
    ));
    let reachable = |v: Verdict, measured: String| {
        Check::new("salt_api.reachable", "salt-api reachable", v, measured)
    };
    let client = match SaltClient::new(cfg) {
        Ok(c) => c,
        Err(e) => {
            out.push(
                reachable(Verdict::Fail, e.to_string())
                    .fix("Check the URL in Settings → Salt API."),
            );
            out.extend(skip_from(1, "no client"));
            return out;
        }
    };

    // Reachable: `GET /` needs no credentials.
    let started = Instant::now();
    let pinged = client.ping().await;
    let took = started.elapsed();
    match pinged {
        Ok(()) if took > SLOW_API => out.push(
            reachable(
                Verdict::Warn,
                format!("{url} answered in {} (slow)", ms(took)),
            )
            .fix(
                "salt-api is slow to answer a request that does no work: check the master's load \
                 and the network between Halite and the master.",
            ),
        ),
        Ok(()) => out.push(reachable(
            Verdict::Pass,
            format!("{url} answered in {}", ms(took)),
        )),
        Err(e) => {
            out.push(reachable(Verdict::Fail, e.to_string()).fix(format!(
                "Start salt-api on the master (systemctl start salt-api) and make sure this \
                         host reaches {url}. salt-api needs a rest_cherrypy block in the master \
                         config, for example:\n\nrest_cherrypy:\n  port: 8000\n  host: 0.0.0.0\n  \
                         ssl_crt: /etc/pki/tls/certs/salt-api.crt\n  ssl_key: \
                         /etc/pki/tls/private/salt-api.key\n\nOr correct the URL in Settings → \
                         Salt API."
            )));
            out.extend(skip_from(1, "salt-api is not reachable"));
            return out;
        }
    }

    // Login: fresh, so a wrong password shows now and not at the next token refresh.
    let sent = chrono::Utc::now();
    let started = Instant::now();
    let login = client.login().await;
    let took = started.elapsed();
    let info = match login {
        Ok(info) => {
            out.push(login_check(&info, &username, &eauth, took));
            info
        }
        Err(e) => {
            let fix = match &e {
                SaltError::Api { status: 401, .. } => format!(
                    "salt-api refused {username} with eauth {eauth}. Check the username, password \
                     and eauth in Settings → Salt API, and that the master grants the user \
                     through external_auth:\n\n{}",
                    external_auth_snippet(&eauth, &username)
                ),
                _ => "salt-api answered the login with an error: see the salt-api log on the \
                      master."
                    .to_string(),
            };
            out.push(
                Check::new(
                    "salt_api.login",
                    "Login and token",
                    Verdict::Fail,
                    e.to_string(),
                )
                .fix(fix),
            );
            out.extend(skip_from(2, "the login failed"));
            return out;
        }
    };
    out.push(clock_check(&info, sent, took));

    // Version (a runner call: says nothing about wheel or local).
    out.push(match client.master_version().await {
        Ok(v) => version_check(&v),
        Err(e) => Check::new("salt.version", "Salt version", Verdict::Warn, e.to_string()).fix(
            "The version is read with `runner salt.cmd test.version`: it needs the runner client \
             and @runner rights (see below).",
        ),
    });

    // netapi clients, one harmless call each.
    let mut probes = vec![];
    for c in CLIENTS {
        probes.push((*c, client.probe_client(c).await));
    }
    out.push(clients_check(&probes));
    out.push(rights_check(&info, &probes, &eauth, &username));

    // /events: open it and let it go.
    let started = Instant::now();
    out.push(match client.events().await {
        Ok(_stream) => Check::new(
            "salt_api.events",
            "Event stream (/events)",
            Verdict::Pass,
            format!("opened in {}", ms(started.elapsed())),
        ),
        Err(e) => Check::new(
            "salt_api.events",
            "Event stream (/events)",
            Verdict::Fail,
            e.to_string(),
        )
        .fix(
            "GET /events is part of rest_cherrypy. A proxy in front of salt-api must pass \
             text/event-stream through unbuffered (nginx: proxy_buffering off; \
             proxy_read_timeout 1h).",
        ),
    });
    out
}

fn external_auth_snippet(eauth: &str, username: &str) -> String {
    format!(
        "external_auth:\n  {eauth}:\n    {username}:\n      - '.*'\n      - '@runner'\n      - \
         '@wheel'\n      - '@jobs'\n\n(then restart salt-master and salt-api)"
    )
}

fn login_check(info: &LoginInfo, username: &str, eauth: &str, took: Duration) -> Check {
    let lifetime = (info.expire - info.start).max(0.0);
    let measured = format!(
        "signed in as {username} (eauth {eauth}) in {}; tokens last {}",
        ms(took),
        human_secs(lifetime)
    );
    if lifetime < 15.0 * 60.0 {
        Check::new("salt_api.login", "Login and token", Verdict::Warn, measured).fix(
            "Tokens this short make Halite log in again every few minutes. In the master \
             config:\n\ntoken_expire: 43200\n\n(12 hours; then restart salt-master)",
        )
    } else {
        Check::new("salt_api.login", "Login and token", Verdict::Pass, measured)
    }
}

fn human_secs(s: f64) -> String {
    let s = s.round() as i64;
    if s >= 3600 && s % 3600 == 0 {
        format!("{} h", s / 3600)
    } else if s >= 3600 {
        format!("{:.1} h", s as f64 / 3600.0)
    } else if s >= 60 {
        format!("{} min", s / 60)
    } else {
        format!("{s} s")
    }
}

/// The master stamps the token with its own clock (`start`); compare it with ours at the
/// middle of the login request.
fn clock_check(info: &LoginInfo, sent: chrono::DateTime<chrono::Utc>, took: Duration) -> Check {
    let mid = sent.timestamp_micros() as f64 / 1e6 + took.as_secs_f64() / 2.0;
    let skew = info.start - mid;
    let measured = format!(
        "the master's clock is {:.1} s {} Halite's (±{:.1} s)",
        skew.abs(),
        if skew >= 0.0 { "ahead of" } else { "behind" },
        took.as_secs_f64() / 2.0
    );
    let verdict = if info.start <= 0.0 {
        return Check::new(
            "salt.clock",
            "Clock skew with the master",
            Verdict::Skip,
            "the login reply carries no start time",
        );
    } else if skew.abs() > SKEW_FAIL {
        Verdict::Fail
    } else if skew.abs() > SKEW_WARN {
        Verdict::Warn
    } else {
        Verdict::Pass
    };
    let c = Check::new(
        "salt.clock",
        "Clock skew with the master",
        verdict,
        measured,
    );
    if verdict == Verdict::Pass {
        c
    } else {
        c.fix(
            "Job and event times are compared across the two clocks. Run NTP on both the master \
             and the Halite host (chrony or systemd-timesyncd: timedatectl set-ntp true).",
        )
    }
}

fn version_check(v: &str) -> Check {
    let major: Option<u32> = v.split('.').next().and_then(|m| m.trim().parse().ok());
    let measured = format!("salt-master {v}");
    match major {
        Some(m) if m < OLDEST_SUPPORTED => {
            Check::new("salt.version", "Salt version", Verdict::Fail, measured).fix(format!(
                "Halite needs Salt {OLDEST_SUPPORTED} or newer (netapi_enable_clients, the reply \
                 shapes it reads). Upgrade the master to {OLDEST_SUPPORTED} LTS or later."
            ))
        }
        Some(m) if m > NEWEST_TESTED => Check::new(
            "salt.version",
            "Salt version",
            Verdict::Warn,
            format!("{measured} (newer than {NEWEST_TESTED}, the newest Halite is tested with)"),
        )
        .fix("It probably works; report anything that looks wrong with this version."),
        Some(_) => Check::new(
            "salt.version",
            "Salt version",
            Verdict::Pass,
            format!("{measured} (supported: {OLDEST_SUPPORTED} to {NEWEST_TESTED})"),
        ),
        None => Check::new(
            "salt.version",
            "Salt version",
            Verdict::Warn,
            format!("{measured}: not a version Halite can read"),
        ),
    }
}

fn is_disabled(e: &SaltError) -> bool {
    matches!(e, SaltError::Api { status: 400, message } if message.contains("Client disabled"))
}

fn is_refused(e: &SaltError) -> bool {
    matches!(
        e,
        SaltError::Api {
            status: 401 | 403,
            ..
        }
    )
}

fn clients_check(probes: &[(&str, Result<(), SaltError>)]) -> Check {
    let names = |f: &dyn Fn(&Result<(), SaltError>) -> bool| -> Vec<&str> {
        probes
            .iter()
            .filter(|(_, r)| f(r))
            .map(|(c, _)| *c)
            .collect()
    };
    let disabled = names(&|r| matches!(r, Err(e) if is_disabled(e)));
    let broken: Vec<String> = probes
        .iter()
        .filter_map(|(c, r)| match r {
            Err(e) if !is_disabled(e) && !is_refused(e) => Some(format!("{c}: {e}")),
            _ => None,
        })
        .collect();
    let enabled = names(&|r| !matches!(r, Err(e) if is_disabled(e)));
    let mut measured = format!("enabled: {}", enabled.join(", "));
    if !disabled.is_empty() {
        measured.push_str(&format!("; disabled: {}", disabled.join(", ")));
    }
    if !broken.is_empty() {
        measured.push_str(&format!("; errors: {}", broken.join("; ")));
    }
    if !disabled.is_empty() {
        Check::new(
            "netapi.clients",
            "netapi clients enabled",
            Verdict::Fail,
            measured,
        )
        .fix(
            "Since Salt 3006 every netapi client is off until listed. In the master config (the \
             file salt-api reads):\n\nnetapi_enable_clients:\n  - local\n  - local_async\n  - \
             local_batch\n  - runner\n  - runner_async\n  - wheel\n  - wheel_async\n\n(then \
             restart salt-api)",
        )
    } else if !broken.is_empty() {
        Check::new(
            "netapi.clients",
            "netapi clients enabled",
            Verdict::Warn,
            measured,
        )
        .fix("A client answered with an error: see the salt-api and salt-master logs.")
    } else {
        Check::new(
            "netapi.clients",
            "netapi clients enabled",
            Verdict::Pass,
            measured,
        )
    }
}

/// Does a regex grant from eauth cover `function`? Only the shapes seen in practice are read
/// (`.*`, an exact name, `mod.*`); anything else is "could not confirm", never a guess.
fn grant_covers(grant: &str, function: &str) -> bool {
    let Some(prefix) = grant.strip_suffix(".*") else {
        return grant.replace("\\.", ".") == function;
    };
    let prefix = prefix.replace("\\.", ".");
    let module = prefix.trim_end_matches('.');
    module.is_empty() || function.starts_with(&format!("{module}."))
}

/// Is `class` (`@runner`, `@wheel`, `@jobs`) granted, wholly or for some functions?
fn class_granted(perms: &[Value], class: &str) -> bool {
    perms.iter().any(|p| match p {
        Value::String(s) => s == class,
        Value::Object(o) => o.contains_key(class),
        _ => false,
    })
}

fn rights_check(
    info: &LoginInfo,
    probes: &[(&str, Result<(), SaltError>)],
    eauth: &str,
    username: &str,
) -> Check {
    let missing: Vec<String> = ["@runner", "@wheel", "@jobs"]
        .iter()
        .filter(|c| !class_granted(&info.perms, c))
        .map(|c| c.to_string())
        .collect();
    let grants: Vec<&str> = info
        .perms
        .iter()
        // Objects (`{"<target>": [functions]}`) grant functions on some minions only.
        .filter_map(Value::as_str)
        .collect();
    let targeted = info.perms.iter().any(|p| {
        p.as_object()
            .is_some_and(|o| o.keys().any(|k| !k.starts_with('@')))
    });
    let uncovered: Vec<&str> = LOCAL_FUNCTIONS
        .iter()
        .filter(|f| !grants.iter().any(|g| grant_covers(g, f)))
        .copied()
        .collect();
    let refused: Vec<&str> = probes
        .iter()
        .filter(|(_, r)| matches!(r, Err(e) if is_refused(e)))
        .map(|(c, _)| *c)
        .collect();
    let perms_text = Value::Array(info.perms.clone()).to_string();
    let mut problems = vec![];
    if !refused.is_empty() {
        problems.push(format!("refused calls through: {}", refused.join(", ")));
    }
    if !missing.is_empty() {
        problems.push(format!("not granted: {}", missing.join(", ")));
    }
    let fix = format!(
        "Grant the service account what Halite calls, in the master config:\n\n{}",
        external_auth_snippet(eauth, username)
    );
    if !problems.is_empty() {
        return Check::new(
            "eauth.rights",
            "eauth rights of the service account",
            Verdict::Fail,
            format!("{}; the login grants {perms_text}", problems.join("; ")),
        )
        .fix(fix);
    }
    if !uncovered.is_empty() {
        return Check::new(
            "eauth.rights",
            "eauth rights of the service account",
            Verdict::Warn,
            format!(
                "could not confirm {}{} from the grants {perms_text}",
                uncovered.join(", "),
                if targeted {
                    " (some grants name targets)"
                } else {
                    ""
                }
            ),
        )
        .fix(fix);
    }
    Check::new(
        "eauth.rights",
        "eauth rights of the service account",
        Verdict::Pass,
        format!(
            "@runner, @wheel, @jobs and {} granted ({perms_text})",
            LOCAL_FUNCTIONS.join(", ")
        ),
    )
}

fn pollers(runtime: Option<&Runtime>) -> Check {
    const ID: &str = "pollers";
    const TITLE: &str = "Pollers";
    let Some(rt) = runtime else {
        return skipped(
            ID,
            TITLE,
            "poller state lives in the running server: see /diagnostics there, or /metrics \
             (halite_poller_last_success_timestamp_seconds)",
        );
    };
    let cluster = rt.cluster();
    if !cluster.is_leader() {
        return Check::new(
            ID,
            TITLE,
            Verdict::Pass,
            "this replica follows: the leader runs the pollers (its Diagnostics page shows them)",
        );
    }
    let now = chrono::Utc::now();
    let mut worst = Verdict::Pass;
    let mut lines = vec![];
    let mut errors = vec![];
    for p in rt.poller_statuses() {
        if p.interval_seconds <= 0 {
            lines.push(format!("{}: off", p.name));
            continue;
        }
        let overdue = chrono::Duration::seconds(p.interval_seconds * 3 + 60);
        let age = p.last_ok_at.map(|t| now - t);
        let verdict = match (&p.last_error, age) {
            (_, None) if p.runs == 0 => Verdict::Pass,
            (Some(_), None) => Verdict::Fail,
            (Some(_), Some(a)) if a > overdue => Verdict::Fail,
            (Some(_), Some(_)) => Verdict::Warn,
            (None, Some(a)) if a > overdue => Verdict::Warn,
            (None, _) => Verdict::Pass,
        };
        worst = worst.max(verdict);
        let when = match age {
            Some(a) => format!("last success {} ago", human_secs(a.num_seconds() as f64)),
            None if p.runs == 0 => "not run yet".to_string(),
            None => "never succeeded".to_string(),
        };
        lines.push(format!(
            "{}: {when}, every {}",
            p.name,
            human_secs(p.interval_seconds as f64)
        ));
        if let Some(e) = &p.last_error {
            errors.push(format!("{}: {e}", p.name));
        }
    }
    if lines.is_empty() {
        return Check::new(
            ID,
            TITLE,
            Verdict::Skip,
            "no poller runs: they start once Salt is configured and reachable",
        );
    }
    let mut measured = lines.join("; ");
    if !errors.is_empty() {
        measured.push_str(&format!("; last errors: {}", errors.join("; ")));
    }
    let c = Check::new(ID, TITLE, worst, measured);
    if worst == Verdict::Pass {
        c
    } else {
        c.fix(
            "A poller that keeps failing leaves its pages stale. Fix what its last error names \
             (usually the Salt checks above); intervals are in Settings → Pollers.",
        )
    }
}

async fn database(db: &Db) -> Check {
    const ID: &str = "database";
    const TITLE: &str = "Database";
    if !db::ping(db).await {
        return Check::new(ID, TITLE, Verdict::Fail, "the database does not answer").fix(
            "Check DATABASE_URL, that the database server runs, and the disk holding the data \
             directory.",
        );
    }
    let (expected, applied) = db::migration_versions(db).await;
    let size = db::size_bytes(db).await;
    let wal = db::wal_bytes(db);
    let mut measured = format!(
        "{} {}, migration {} of {}",
        db.engine().name(),
        size.map(bytes_text)
            .unwrap_or_else(|| "size unknown".into()),
        applied.map(|v| v.to_string()).unwrap_or_else(|| "?".into()),
        expected
    );
    if let Some(w) = wal {
        measured.push_str(&format!(", write-ahead log {}", bytes_text(w)));
    }
    if applied != Some(expected) {
        return Check::new(ID, TITLE, Verdict::Fail, measured).fix(
            "Migrations run when Halite starts: restart it, and read its log if they fail. A \
             database newer than this build needs the newer Halite.",
        );
    }
    if wal.is_some_and(|w| w > WAL_WARN_BYTES) {
        return Check::new(ID, TITLE, Verdict::Warn, measured).fix(
            "The SQLite write-ahead log is large: something holds a long read (a backup?). It \
             shrinks at the next checkpoint once that ends; a restart of Halite forces one.",
        );
    }
    Check::new(ID, TITLE, Verdict::Pass, measured)
}

fn bytes_text(n: u64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    if n as f64 >= MIB {
        format!("{:.1} MiB", n as f64 / MIB)
    } else {
        format!("{:.0} KiB", n as f64 / 1024.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn login(perms: Value, start: f64, expire: f64) -> LoginInfo {
        LoginInfo {
            token: "t".into(),
            expire,
            start,
            user: "halite".into(),
            eauth: "pam".into(),
            perms: perms.as_array().cloned().unwrap_or_default(),
        }
    }

    #[test]
    fn grants_are_read_only_as_far_as_they_can_be_trusted() {
        assert!(grant_covers(".*", "test.ping"));
        assert!(grant_covers("test.ping", "test.ping"));
        assert!(grant_covers("test.*", "test.ping"));
        assert!(grant_covers("test\\..*", "test.ping"));
        assert!(!grant_covers("test.*", "testx.ping"));
        assert!(!grant_covers("state.*", "test.ping"));
        assert!(!grant_covers("te.t.ping", "test.ping"), "no regex guessing");
    }

    #[test]
    fn rights_fail_without_wheel_and_warn_on_what_cannot_be_confirmed() {
        let ok: Vec<(&str, Result<(), SaltError>)> = CLIENTS.iter().map(|c| (*c, Ok(()))).collect();
        let full = login(json!([".*", "@runner", "@wheel", "@jobs"]), 1.0, 2.0);
        assert_eq!(
            rights_check(&full, &ok, "pam", "halite").verdict,
            Verdict::Pass
        );
        let no_wheel = login(json!([".*", "@runner", "@jobs"]), 1.0, 2.0);
        let c = rights_check(&no_wheel, &ok, "pam", "halite");
        assert_eq!(c.verdict, Verdict::Fail);
        assert!(c.measured.contains("@wheel"), "{}", c.measured);
        assert!(c.fix.unwrap().contains("- '@wheel'"));
        let narrow = login(
            json!(["test.*", {"@runner": ["manage.*"]}, "@wheel", "@jobs"]),
            1.0,
            2.0,
        );
        let c = rights_check(&narrow, &ok, "pam", "halite");
        assert_eq!(c.verdict, Verdict::Warn, "{}", c.measured);
        assert!(c.measured.contains("pkg.list_pkgs"), "{}", c.measured);
        let refused: Vec<(&str, Result<(), SaltError>)> = vec![(
            "wheel",
            Err(SaltError::Api {
                status: 401,
                message: "no".into(),
            }),
        )];
        assert_eq!(
            rights_check(&full, &refused, "pam", "halite").verdict,
            Verdict::Fail
        );
    }

    #[test]
    fn a_disabled_client_fails_with_the_master_config_to_paste() {
        let probes: Vec<(&str, Result<(), SaltError>)> = vec![
            ("local", Ok(())),
            (
                "wheel",
                Err(SaltError::Api {
                    status: 400,
                    message: "Client disabled: 'wheel'. Add to 'netapi_enable_clients' master config option to enable.".into(),
                }),
            ),
        ];
        let c = clients_check(&probes);
        assert_eq!(c.verdict, Verdict::Fail);
        assert_eq!(c.measured, "enabled: local; disabled: wheel");
        assert!(c
            .fix
            .unwrap()
            .contains("netapi_enable_clients:\n  - local\n"));
    }

    #[test]
    fn versions_and_clocks() {
        assert_eq!(version_check("3008.4").verdict, Verdict::Pass);
        assert_eq!(version_check("3006.29").verdict, Verdict::Pass);
        assert_eq!(version_check("3005.1").verdict, Verdict::Fail);
        assert_eq!(version_check("3009.0").verdict, Verdict::Warn);
        let sent = chrono::Utc::now();
        let now = sent.timestamp() as f64;
        let at = |start: f64| {
            clock_check(
                &login(json!([]), start, start + 43200.0),
                sent,
                Duration::ZERO,
            )
        };
        assert_eq!(at(now + 1.0).verdict, Verdict::Pass);
        assert_eq!(at(now - 30.0).verdict, Verdict::Warn);
        let c = at(now + 600.0);
        assert_eq!(c.verdict, Verdict::Fail);
        assert!(c.measured.contains("ahead of"), "{}", c.measured);
        assert_eq!(human_secs(43200.0), "12 h");
        assert_eq!(human_secs(90.0), "1 min");
    }
}
