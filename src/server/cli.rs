//! Command line: `halite` (serve) and `halite admin create-user|reset-password|list-users`.

use crate::server::config::{Config, LogFormat};
use crate::server::{audit, auth, db, http, users};
use std::io::Read;

const USAGE: &str = "\
Usage:
  halite                      serve (configuration from the environment; see README)
  halite serve                same
  halite assets compress [DIR]
                              write .br and .gz beside the static files under DIR (default:
                              LEPTOS_SITE_ROOT), served to browsers that accept them; the
                              release build runs it
  halite healthcheck          exit 0 when the server on LISTEN_HOST:LISTEN_PORT answers /healthz
                              (the container's HEALTHCHECK; no curl needed)
  halite admin create-user --username NAME [--display-name TEXT] [--role ROLE]...
                           (--password-file FILE | --password-stdin) [--no-force-change]
  halite admin reset-password --username NAME (--password-file FILE | --password-stdin)
                           [--no-force-change]
  halite admin list-users
  halite admin delete-user --username NAME
  halite admin deactivate-user --username NAME      (ends the user's sessions)
  halite admin activate-user --username NAME
  halite admin grant-role --username NAME --role ROLE
  halite admin revoke-role --username NAME --role ROLE
                        (the same rules as the Users page: built-in users cannot be deleted, the
                         last active holder of *:* cannot be deactivated, deleted or stripped)
  halite admin create-role --name NAME --perm VERB:RESOURCE [--perm ...]
                           (a custom role, e.g. --perm execute:salt:test.* --perm view:job:*)
  halite admin list-roles    every role: built-in or not, members, grants
  halite admin show-role --name NAME
                           one role's grants and members
  halite admin set-salt --url URL --username NAME [--eauth pam|sharedsecret|ldap|file|auto]
                           (--password-file FILE | --password-stdin) [--no-verify]
                        (writes the Settings row; a running Halite picks it up on its next
                         reload: save in the UI or restart)
  halite admin backup FILE   an online copy of the SQLite database, safe while Halite runs
                           (Postgres: use pg_dump; see docs/deploy.md)
  halite admin check [--json]
                           the Diagnostics checks (salt-api, login, clock, version, netapi
                           clients, eauth rights, /events, database); exit 1 when one fails
  halite admin export PAGE [KEY=VALUE]... [--format csv|json|ndjson]
                           a table as its page's export sends it, every row, to standard output;
                           PAGE is minions, keys, jobs, activity, templates, users, roles, audit,
                           fleet, packages (the inventory's packages table) or inventory (the
                           package search: name=openssl version_op=lt ...), and
                           KEY=VALUE are the page's URL filters (q=web status=online sort=os ...);
                           audited as export.PAGE via cli
  halite admin audit [--since T] [--until T] [--user NAME] [--action ACTION] [--limit N] [--json]
                           (newest first; T is RFC 3339, 2026-11-30T08:00 (UTC) or a span back
                            from now: 30m, 24h, 7d; --limit 1 to 100000, default 100)
";

/// Builds the whole HTTP application for a state (the app layer's `routes::router`; the binary
/// hands it in, so `server` does not import `app`).
pub type AppRouter = fn(crate::server::state::AppState) -> axum::Router;

/// `halite assets compress [DIR]`: pre-compress the static files, printing the sizes.
fn assets(args: &[String]) -> i32 {
    let (Some("compress"), dir, None) =
        (args.first().map(String::as_str), args.get(1), args.get(2))
    else {
        eprintln!("halite: usage: halite assets compress [DIR]");
        return 2;
    };
    let root = std::path::PathBuf::from(dir.cloned().unwrap_or_else(|| {
        std::env::var("LEPTOS_SITE_ROOT").unwrap_or_else(|_| "target/site".into())
    }));
    match crate::server::assets::compress_dir(&root) {
        Ok(files) => {
            for f in &files {
                println!(
                    "{}: {} bytes, gzip {}, brotli {}{}",
                    f.path.display(),
                    f.raw,
                    f.gzip,
                    f.brotli,
                    if f.up_to_date { " (up to date)" } else { "" }
                );
            }
            0
        }
        Err(e) => {
            eprintln!(
                "halite: cannot compress the files under {}: {e}",
                root.display()
            );
            1
        }
    }
}

/// Entry point; returns the process exit code.
pub async fn main_entry(router: AppRouter) -> i32 {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "assets") {
        // A build step: it needs no configuration (no cookie secret, no database).
        return assets(&args[1..]);
    }
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("halite: {e}");
            return 2;
        }
    };
    match args.first().map(String::as_str) {
        None | Some("serve") => serve(config, router).await,
        Some("admin") => admin(config, &args[1..]).await,
        Some("healthcheck") => healthcheck(&config).await,
        Some("-h") | Some("--help") | Some("help") => {
            print!("{USAGE}");
            0
        }
        Some(other) => {
            eprintln!("halite: unknown command {other:?}\n{USAGE}");
            2
        }
    }
}

fn init_tracing(config: &Config) {
    let level = match config.log_level.to_ascii_lowercase().as_str() {
        "warning" => "warn".to_string(),
        "critical" => "error".to_string(),
        l => l.to_string(),
    };
    let filter = tracing_subscriber::EnvFilter::try_new(format!(
        "{level},sqlx=warn,hyper=warn,tower_http=warn"
    ))
    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = match config.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

async fn serve(config: Config, router: AppRouter) -> i32 {
    init_tracing(&config);
    tracing::info!(config = ?config, "starting Halite");
    let addr = format!("{}:{}", config.listen_host, config.listen_port);
    let state = match http::build_state(config).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "startup failed");
            eprintln!("halite: {e}");
            return 1;
        }
    };
    let runtime = state.runtime.clone();
    tokio::spawn(async move { runtime.boot().await });
    let db = state.db.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            tick.tick().await;
            if let Ok(n) = auth::prune_sessions(&db).await {
                if n > 0 {
                    tracing::info!(removed = n, "pruned expired sessions");
                }
            }
        }
    });
    let runtime = state.runtime.clone();
    let stopping = state.shutdown.clone();
    let metrics_listen = state.config.metrics_listen;
    let metrics_app = crate::server::metrics::separate_router(state.clone());
    let app = router(state);
    let listener = match tokio::net::TcpListener::bind(&addr).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, %addr, "cannot listen");
            eprintln!("halite: cannot listen on {addr}: {e}");
            return 1;
        }
    };
    tracing::info!("listening on http://{addr}");
    if let Some(maddr) = metrics_listen {
        match tokio::net::TcpListener::bind(maddr).await {
            Ok(l) => {
                tracing::info!("metrics on http://{maddr}/metrics");
                let stopping = stopping.clone();
                tokio::spawn(async move {
                    if let Err(e) = axum::serve(l, metrics_app)
                        .with_graceful_shutdown(stopping.cancelled_owned())
                        .await
                    {
                        tracing::error!(error = %e, "metrics listener failed");
                    }
                });
            }
            Err(e) => {
                tracing::error!(error = %e, %maddr, "cannot listen for metrics");
                eprintln!("halite: cannot listen on METRICS_LISTEN {maddr}: {e}");
                return 1;
            }
        }
    }
    // On SIGTERM/ctrl-c: stop accepting, end the live streams, let in-flight requests finish
    // (at most DRAIN_LIMIT), then stop the pollers and the event consumer (which writes what it
    // holds) and exit.
    let signalled = stopping.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        signalled.cancel();
    });
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(stopping.clone().cancelled_owned());
    let served = tokio::select! {
        r = server => r,
        _ = async {
            stopping.cancelled().await;
            tokio::time::sleep(DRAIN_LIMIT).await;
        } => {
            tracing::warn!(limit = ?DRAIN_LIMIT, "requests still running at the drain limit; closing them");
            Ok(())
        }
    };
    tracing::info!("connections drained; stopping pollers and the event consumer");
    runtime.shutdown().await;
    match served {
        Ok(()) => {
            tracing::info!("stopped");
            0
        }
        Err(e) => {
            tracing::error!(error = %e, "server error");
            1
        }
    }
}

/// `halite healthcheck`: ask this machine's server for `/healthz` (a wildcard listen address
/// is asked on loopback). Exit 0 when it answers 200 within 3 s, 1 otherwise.
pub async fn healthcheck(config: &Config) -> i32 {
    let host = match config.listen_host.as_str() {
        "0.0.0.0" | "" => "127.0.0.1".to_string(),
        "::" | "[::]" => "[::1]".to_string(),
        h if h.contains(':') && !h.starts_with('[') => format!("[{h}]"),
        h => h.to_string(),
    };
    let url = format!("http://{host}:{}/healthz", config.listen_port);
    let client = match reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(3))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("halite healthcheck: {e}");
            return 1;
        }
    };
    match client.get(&url).send().await {
        Ok(r) if r.status().is_success() => {
            println!("ok: {url} answered {}", r.status().as_u16());
            0
        }
        Ok(r) => {
            eprintln!("unhealthy: {url} answered {}", r.status().as_u16());
            1
        }
        Err(e) => {
            eprintln!("unhealthy: {url}: {e}");
            1
        }
    }
}

/// How long a shutdown waits for in-flight requests before closing them (the whole exit stays
/// within 10 s: the runtime then stops in well under 2 s).
const DRAIN_LIMIT: std::time::Duration = std::time::Duration::from_secs(7);

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutdown signal received; draining connections");
}

struct Flags {
    url: Option<String>,
    eauth: String,
    verify: bool,
    username: Option<String>,
    display_name: String,
    roles: Vec<String>,
    name: Option<String>,
    perms: Vec<String>,
    password_file: Option<String>,
    password_stdin: bool,
    force_change: bool,
}

fn parse_flags(args: &[String]) -> Result<Flags, String> {
    let mut f = Flags {
        url: None,
        eauth: "pam".into(),
        verify: true,
        username: None,
        display_name: String::new(),
        roles: vec![],
        name: None,
        perms: vec![],
        password_file: None,
        password_stdin: false,
        force_change: true,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = |name: &str| it.next().cloned().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--username" => f.username = Some(val("--username")?),
            "--display-name" => f.display_name = val("--display-name")?,
            "--role" => f.roles.push(val("--role")?),
            "--name" => f.name = Some(val("--name")?),
            "--perm" => f.perms.push(val("--perm")?),
            "--password-file" => f.password_file = Some(val("--password-file")?),
            "--password-stdin" => f.password_stdin = true,
            "--no-force-change" => f.force_change = false,
            "--url" => f.url = Some(val("--url")?),
            "--eauth" => f.eauth = val("--eauth")?,
            "--no-verify" => f.verify = false,
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    Ok(f)
}

fn read_password(f: &Flags) -> Result<String, String> {
    let raw = if let Some(path) = &f.password_file {
        std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?
    } else if f.password_stdin {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| format!("cannot read stdin: {e}"))?;
        s
    } else {
        return Err("give the password with --password-file FILE or --password-stdin".into());
    };
    Ok(raw.trim_end_matches(['\n', '\r']).to_string())
}

async fn admin(mut config: Config, args: &[String]) -> i32 {
    let sub = args.first().map(String::as_str).unwrap_or("");
    if sub == "audit" {
        return admin_audit(&config, args.get(1..).unwrap_or(&[])).await;
    }
    if sub == "check" {
        return admin_check(config, args.get(1..).unwrap_or(&[])).await;
    }
    if sub == "export" {
        return admin_export(config, args.get(1..).unwrap_or(&[])).await;
    }
    if sub == "backup" {
        return admin_backup(&config, args.get(1..).unwrap_or(&[])).await;
    }
    let run = async {
        let flags = parse_flags(args.get(1..).unwrap_or(&[]))?;
        config.ensure_cookie_secret().map_err(|e| e.to_string())?;
        let pool = db::connect(&config.database_url)
            .await
            .map_err(|e| format!("cannot open database: {e}"))?;
        users::seed_builtin_roles(&pool)
            .await
            .map_err(|e| e.to_string())?;
        match sub {
            "create-user" => {
                let username = flags.username.clone().ok_or("--username is required")?;
                let pw = read_password(&flags)?;
                let roles: Vec<&str> = if flags.roles.is_empty() {
                    vec!["viewer"]
                } else {
                    flags.roles.iter().map(String::as_str).collect()
                };
                users::create_user(
                    &pool,
                    &username,
                    &flags.display_name,
                    &pw,
                    flags.force_change,
                    &roles,
                )
                .await
                .map_err(|e| e.to_string())?;
                audit::record(
                    &pool,
                    audit::AuditEntry::new("user.create", &format!("user:{username}"))
                        .args(serde_json::json!({ "via": "cli", "roles": roles })),
                )
                .await;
                println!("created user {username} with roles {}", roles.join(", "));
                Ok(())
            }
            "create-role" => create_role(&pool, &flags).await,
            "list-roles" => list_roles(&pool).await,
            "show-role" => show_role(&pool, &flags).await,
            "reset-password" => {
                let username = flags.username.clone().ok_or("--username is required")?;
                let pw = read_password(&flags)?;
                auth::password::validate_new(&pw)?;
                let row = users::find_for_login(&pool, &username)
                    .await
                    .map_err(|e| e.to_string())?
                    .ok_or(format!("no user named {username:?}"))?;
                users::set_password(&pool, &row.id, &pw, flags.force_change)
                    .await
                    .map_err(|e| e.to_string())?;
                let ended = auth::delete_user_sessions(&pool, &row.id, None)
                    .await
                    .map_err(|e| e.to_string())?;
                audit::record(
                    &pool,
                    audit::AuditEntry::new(
                        "user.password_reset",
                        &format!("user:{}", row.username),
                    )
                    .args(serde_json::json!({ "via": "cli" })),
                )
                .await;
                println!(
                    "password reset for {}; {ended} session(s) ended",
                    row.username
                );
                Ok(())
            }
            "set-salt" => {
                let url = flags.url.clone().ok_or("--url is required")?;
                let username = flags.username.clone().ok_or("--username is required")?;
                let pw = read_password(&flags)?;
                let input = crate::server::settings::validate_salt(
                    &url,
                    &username,
                    &pw,
                    &flags.eauth,
                    flags.verify,
                    true,
                )
                .map_err(|e| e.to_string())?;
                let secrets = crate::server::secrets::SecretsCipher::new(&config.cookie_secret);
                crate::server::settings::save_salt(&pool, &secrets, &input)
                    .await
                    .map_err(|e| e.to_string())?;
                audit::record(
                    &pool,
                    audit::AuditEntry::new("settings.salt.update", "settings:salt").args(
                        serde_json::json!({
                            "via": "cli", "url": input.url, "username": input.username,
                            "eauth": input.eauth, "verify": input.verify, "password_changed": true,
                        }),
                    ),
                )
                .await;
                println!(
                    "saved Salt API settings: {} as {} (eauth {})",
                    url, username, flags.eauth
                );
                Ok(())
            }
            "list-users" => {
                let rows = users::list_users(&pool).await.map_err(|e| e.to_string())?;
                println!("USERNAME                 ACTIVE     MUST-CHANGE    ROLES                    LAST LOGIN");
                for r in rows {
                    println!(
                        "{:<24} {:<10} {:<14} {:<24} {}",
                        r.username,
                        if r.is_active { "yes" } else { "no" },
                        if r.must_change_pw { "yes" } else { "no" },
                        r.roles.unwrap_or_default(),
                        r.last_login_at
                            .map(crate::server::to_text)
                            .unwrap_or_else(|| "never".into())
                    );
                }
                Ok(())
            }
            "delete-user" => user_delete(&pool, &flags).await,
            "deactivate-user" => user_set_active(&pool, &flags, false).await,
            "activate-user" => user_set_active(&pool, &flags, true).await,
            "grant-role" => user_role(&pool, &flags, true).await,
            "revoke-role" => user_role(&pool, &flags, false).await,
            _ => Err(format!("unknown admin command {sub:?}\n{USAGE}")),
        }
    };
    match run.await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("halite: {e}");
            1
        }
    }
}

/// `halite admin create-role`: the same checks as the Roles page (name, verbs, globs, 409 on a
/// taken name), one audit row.
async fn create_role(pool: &db::Db, flags: &Flags) -> Result<(), String> {
    use crate::server::roles::{self, validate};
    let name = flags.name.clone().ok_or("--name is required")?;
    if flags.perms.is_empty() {
        return Err("give at least one --perm VERB:RESOURCE".into());
    }
    let mut perms = vec![];
    for p in &flags.perms {
        let (verb, res) = p.split_once(':').ok_or(format!(
            "{p:?} is not VERB:RESOURCE (e.g. execute:salt:test.*)"
        ))?;
        let verb = validate::verb(verb).map_err(|e| format!("{p:?}: {e}"))?;
        let res = validate::resource_glob(res).map_err(|e| format!("{p:?}: {e}"))?;
        if !perms.contains(&(verb.clone(), res.clone())) {
            perms.push((verb, res));
        }
    }
    let role = roles::create(pool, &name, "created with halite admin create-role")
        .await
        .map_err(|e| e.to_string())?;
    for (verb, res) in &perms {
        roles::add_permission(pool, &role, verb, res)
            .await
            .map_err(|e| e.to_string())?;
    }
    audit::record(
        pool,
        audit::AuditEntry::new("role.create", &format!("role:{}", role.name))
            .args(serde_json::json!({ "via": "cli", "permissions": flags.perms })),
    )
    .await;
    println!("created role {} with {}", role.name, flags.perms.join(", "));
    Ok(())
}

/// `halite admin list-roles`.
async fn list_roles(pool: &db::Db) -> Result<(), String> {
    let rows = crate::server::roles::cli_rows(pool)
        .await
        .map_err(|e| e.to_string())?;
    println!("NAME                     BUILT-IN   MEMBERS    GRANTS");
    for (r, grants) in rows {
        let grants: Vec<String> = grants.iter().map(|g| g.label()).collect();
        println!(
            "{:<24} {:<10} {:<10} {}",
            r.name,
            if r.is_builtin { "yes" } else { "no" },
            r.member_count,
            grants.join(" ")
        );
    }
    Ok(())
}

/// The user `--username` names (404 as text otherwise).
async fn flagged_user(
    pool: &db::Db,
    flags: &Flags,
) -> Result<crate::model::users::UserSummary, String> {
    let username = flags.username.clone().ok_or("--username is required")?;
    users::service::load_by_username(pool, &username)
        .await
        .map_err(|e| e.to_string())
}

/// `halite admin delete-user`.
async fn user_delete(pool: &db::Db, flags: &Flags) -> Result<(), String> {
    let target = flagged_user(pool, flags).await?;
    users::service::delete(pool, &users::service::Actor::cli(), &target)
        .await
        .map_err(|e| e.to_string())?;
    println!("deleted user {}", target.username);
    Ok(())
}

/// `halite admin deactivate-user` / `activate-user`.
async fn user_set_active(pool: &db::Db, flags: &Flags, active: bool) -> Result<(), String> {
    let target = flagged_user(pool, flags).await?;
    let change = users::service::UpdateUser {
        is_active: Some(active),
        ..Default::default()
    };
    let done = users::service::update(pool, &users::service::Actor::cli(), &target, change)
        .await
        .map_err(|e| e.to_string())?;
    match (done.changed, active) {
        (false, _) => println!(
            "{} is {} already",
            target.username,
            if active { "active" } else { "inactive" }
        ),
        (true, true) => println!("activated {}", target.username),
        (true, false) => println!(
            "deactivated {}; {} session(s) ended",
            target.username, done.sessions_ended
        ),
    }
    Ok(())
}

/// `halite admin show-role --name NAME`.
async fn show_role(pool: &db::Db, flags: &Flags) -> Result<(), String> {
    use crate::server::roles;
    let name = flags.name.clone().ok_or("--name is required")?;
    let role = roles::summary_by_name(pool, &name)
        .await
        .map_err(|e| e.to_string())?
        .ok_or(format!("no role named {name:?}"))?;
    let d = roles::detail(pool, role).await.map_err(|e| e.to_string())?;
    println!(
        "role {}{}: {}",
        d.role.name,
        if d.role.is_builtin { " (built-in)" } else { "" },
        d.role.description
    );
    println!("grants ({}):", d.permissions.len());
    for g in &d.permissions {
        println!("  {}", g.label());
    }
    println!("members ({}):", d.members.len());
    for m in &d.members {
        let note = if m.is_active { "" } else { " (inactive)" };
        println!("  {}{note}", m.username);
    }
    Ok(())
}

/// `halite admin grant-role` / `revoke-role`.
async fn user_role(pool: &db::Db, flags: &Flags, grant: bool) -> Result<(), String> {
    let target = flagged_user(pool, flags).await?;
    let name = flags.roles.first().ok_or("--role is required")?;
    let role = users::service::role_by_name(pool, name)
        .await
        .map_err(|e| e.to_string())?;
    let actor = users::service::Actor::cli();
    if grant {
        users::service::add_role(pool, &actor, &target, &role).await
    } else {
        users::service::remove_role(pool, &actor, &target, &role).await
    }
    .map_err(|e| e.to_string())?;
    let verb = if grant { "granted" } else { "revoked" };
    println!("{verb} role {} for {}", role.name, target.username);
    Ok(())
}

/// Rows `halite admin audit` prints when `--limit` is not given.
pub const AUDIT_DEFAULT_LIMIT: i64 = 100;
/// Most rows `halite admin audit` prints.
pub const AUDIT_MAX_LIMIT: i64 = 100_000;

/// `halite admin audit`'s options: the Audit page's filters (checked the same way), a limit and
/// the output form.
#[derive(Debug, Default, PartialEq)]
pub struct AuditArgs {
    pub filters: crate::model::audit::AuditFilters,
    pub limit: i64,
    pub json: bool,
}

/// Parse `halite admin audit`'s options.
pub fn parse_audit_args(args: &[String]) -> Result<AuditArgs, String> {
    let mut a = AuditArgs {
        limit: AUDIT_DEFAULT_LIMIT,
        ..Default::default()
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut val = || it.next().cloned().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--since" => a.filters.since = val()?,
            "--until" => a.filters.until = val()?,
            "--user" => a.filters.user = val()?,
            "--action" => a.filters.action = val()?,
            "--decision" => a.filters.decision = val()?,
            "--resource" => a.filters.resource = val()?,
            "--limit" => {
                let v = val()?;
                a.limit = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=AUDIT_MAX_LIMIT).contains(n))
                    .ok_or(format!(
                        "--limit must be a number from 1 to {AUDIT_MAX_LIMIT}"
                    ))?;
            }
            "--json" => a.json = true,
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    Ok(a)
}

/// `halite admin backup FILE`: an online, consistent copy of the SQLite database (see
/// [`db::backup_sqlite`]); Postgres is backed up with `pg_dump`.
async fn admin_backup(config: &Config, args: &[String]) -> i32 {
    let run = async {
        let [file] = args else {
            return Err("usage: halite admin backup FILE".to_string());
        };
        let pool = open_db(config).await?;
        let started = std::time::Instant::now();
        let r = db::backup_sqlite(&pool, std::path::Path::new(file)).await;
        pool.close().await;
        let bytes = r?;
        let took = started.elapsed().as_millis();
        println!("backed up to {file} ({bytes} bytes in {took} ms)");
        Ok(0)
    };
    exit_code(run.await, 1)
}

/// `halite admin check [--json]`: the Diagnostics checks from the command line. Exit 0 when
/// nothing fails (warnings included), 1 when a check fails, 2 when the checks cannot run.
async fn admin_check(mut config: Config, args: &[String]) -> i32 {
    let run = async {
        let json = match args {
            [] => false,
            [a] if a == "--json" => true,
            _ => return Err("usage: halite admin check [--json]".to_string()),
        };
        config.ensure_cookie_secret().map_err(|e| e.to_string())?;
        let pool = open_db(&config).await?;
        let secrets = crate::server::secrets::SecretsCipher::new(&config.cookie_secret);
        let report =
            crate::server::diagnostics::run(&pool, &secrets, None, &config.build_hash).await;
        pool.close().await;
        if json {
            println!(
                "{}",
                serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?
            );
        } else {
            print!("{}", report.to_text());
        }
        Ok(match report.worst() {
            crate::model::diagnostics::Verdict::Fail => 1,
            _ => 0,
        })
    };
    exit_code(run.await, 2)
}

/// `halite admin export PAGE [KEY=VALUE]... [--format F]`: the page's export, as a user holding
/// `*:*` would download it, to standard output.
async fn admin_export(config: Config, args: &[String]) -> i32 {
    use crate::server::export::{write_to, ExportFormat, Params};
    let run = async {
        let usage = "usage: halite admin export PAGE [KEY=VALUE]... [--format csv|json|ndjson]";
        let (page, rest) = args.split_first().ok_or(usage)?;
        let mut format = ExportFormat::Csv;
        let mut params = Params::default();
        let mut it = rest.iter();
        while let Some(a) = it.next() {
            if a == "--format" {
                format = match it.next().map(String::as_str) {
                    Some("csv") => ExportFormat::Csv,
                    Some("json") => ExportFormat::Json,
                    Some("ndjson") => ExportFormat::Ndjson,
                    _ => return Err("--format must be csv, json or ndjson".to_string()),
                };
            } else if let Some((k, v)) = a.split_once('=') {
                params.0.insert(k.to_string(), v.to_string());
            } else {
                return Err(format!("{a:?} is not KEY=VALUE\n{usage}"));
            }
        }
        let state = http::build_state(config).await?;
        let user = auth::CurrentUser {
            id: String::new(),
            username: "cli".into(),
            display_name: "command line".into(),
            must_change_pw: false,
            theme: String::new(),
            permissions: vec![crate::rbac::Permission::new("*", "*")],
            session_key: String::new(),
        };
        let mut out = std::io::BufWriter::new(std::io::stdout());
        use crate::server::{activity, jobs, keys, minions, templates};
        let r = match page.as_str() {
            "minions" => {
                write_to::<minions::export::MinionsExport>(&state, &user, params, format, &mut out)
                    .await
            }
            "keys" => write_to::<keys::KeysExport>(&state, &user, params, format, &mut out).await,
            "jobs" => {
                write_to::<jobs::export::JobsExport>(&state, &user, params, format, &mut out).await
            }
            "activity" => {
                write_to::<activity::export::ActivityExport>(
                    &state, &user, params, format, &mut out,
                )
                .await
            }
            "templates" => {
                write_to::<templates::TemplatesExport>(&state, &user, params, format, &mut out)
                    .await
            }
            "users" => {
                write_to::<users::export::UsersExport>(&state, &user, params, format, &mut out)
                    .await
            }
            "audit" => {
                write_to::<audit::export::AuditExport>(&state, &user, params, format, &mut out)
                    .await
            }
            "fleet" => {
                write_to::<crate::server::fleet::export::FleetExport>(
                    &state, &user, params, format, &mut out,
                )
                .await
            }
            "inventory" => {
                write_to::<crate::server::inventory::export::InventoryExport>(
                    &state, &user, params, format, &mut out,
                )
                .await
            }
            "roles" => {
                write_to::<crate::server::roles::export::RolesExport>(
                    &state, &user, params, format, &mut out,
                )
                .await
            }
            "packages" => {
                write_to::<crate::server::inventory::export::PackagesExport>(
                    &state, &user, params, format, &mut out,
                )
                .await
            }
            other => Err(format!(
                "no page {other:?} to export: minions, keys, jobs, activity, templates, users, \
                 roles, audit, fleet, packages or inventory"
            )),
        };
        state.db.close().await;
        r.map(|()| 0)
    };
    exit_code(run.await, 2)
}

async fn open_db(config: &Config) -> Result<db::Db, String> {
    db::connect(&config.database_url)
        .await
        .map_err(|e| format!("cannot open database: {e}"))
}

/// A command's exit code, or `fail` after printing its error.
fn exit_code(r: Result<i32, String>, fail: i32) -> i32 {
    r.unwrap_or_else(|e| {
        eprintln!("halite: {e}");
        fail
    })
}

/// The audit log as a table (or JSON) on stdout, newest first.
async fn admin_audit(config: &Config, args: &[String]) -> i32 {
    let run = async {
        let a = parse_audit_args(args)?;
        let f = crate::model::list::ListFilters::validate(a.filters).map_err(|e| {
            let field = e.field().map(|f| format!("--{f}: ")).unwrap_or_default();
            format!("{field}{e}")
        })?;
        let pool = db::connect(&config.database_url)
            .await
            .map_err(|e| format!("cannot open database: {e}"))?;
        let rows = audit::query::page(&pool, &f, a.limit, 0)
            .await
            .map_err(|e| e.to_string())?;
        let mut out = std::io::BufWriter::new(std::io::stdout());
        write_audit(&mut out, &rows, a.json).map_err(|e| e.to_string())
    };
    match run.await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("halite: {e}");
            1
        }
    }
}

/// Rows as `halite admin audit` prints them: a table, or with `json` one JSON array with an
/// entry per line.
pub fn write_audit(
    out: &mut impl std::io::Write,
    rows: &[crate::model::audit::AuditRow],
    json: bool,
) -> std::io::Result<()> {
    if json {
        writeln!(out, "[")?;
        for (i, r) in rows.iter().enumerate() {
            let sep = if i + 1 < rows.len() { "," } else { "" };
            writeln!(out, "{}{sep}", serde_json::to_string(r)?)?;
        }
        return writeln!(out, "]");
    }
    writeln!(
        out,
        "{:<24} {:<20} {:<28} {:<32} {:<8} CODE",
        "TIME (UTC)", "USER", "ACTION", "RESOURCE", "DECISION"
    )?;
    for r in rows {
        writeln!(
            out,
            "{:<24} {:<20} {:<28} {:<32} {:<8} {}",
            crate::model::time::rfc3339(&r.at),
            printable(r.username.as_deref().unwrap_or("-")),
            printable(&r.action),
            printable(&r.resource),
            r.decision.as_str(),
            r.result_code
        )?;
    }
    Ok(())
}

/// Text from the audit log made safe for a terminal: control characters (an escape sequence in a
/// username typed at the sign-in form) are shown escaped, never sent to the terminal.
fn printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}
