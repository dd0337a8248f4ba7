//! Environment configuration, read once at start (SPEC 9.3 + DECISIONS).

use std::path::PathBuf;

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Text,
}

/// Everything Halite reads from the environment.
#[derive(Clone)]
pub struct Config {
    pub database_url: String,
    pub data_dir: PathBuf,
    pub cookie_secret: String,
    pub cookie_secret_generated: bool,
    pub cookie_name: String,
    pub cookie_secure: bool,
    pub session_ttl_minutes: i64,
    pub listen_host: String,
    pub listen_port: u16,
    pub log_level: String,
    pub log_format: LogFormat,
    pub bootstrap_admin_username: String,
    pub bootstrap_admin_password: String,
    pub site_root: String,
    pub build_hash: String,
    /// Max failed logins per username+IP within the window before 429.
    pub login_max_failures: usize,
    pub login_window_secs: u64,
    /// Seconds between salt-api reachability probes.
    pub salt_health_interval_secs: u64,
    /// Proxies (`TRUSTED_PROXIES`, CIDRs) whose `X-Forwarded-For` is believed; empty: none.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// `METRICS_TOKEN`: when set, `/metrics` wants `Authorization: Bearer <token>`.
    pub metrics_token: Option<String>,
    /// `METRICS_LISTEN` (`host:port`): when set, `/metrics` is served there and not on the main
    /// address.
    pub metrics_listen: Option<std::net::SocketAddr>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the cookie secret or the bootstrap password.
        f.debug_struct("Config")
            .field("database_url", &redact_url(&self.database_url))
            .field("data_dir", &self.data_dir)
            .field("cookie_name", &self.cookie_name)
            .field("cookie_secure", &self.cookie_secure)
            .field("session_ttl_minutes", &self.session_ttl_minutes)
            .field(
                "listen",
                &format!("{}:{}", self.listen_host, self.listen_port),
            )
            .field("log_level", &self.log_level)
            .field("log_format", &self.log_format)
            .field("site_root", &self.site_root)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("metrics_token", &self.metrics_token.as_ref().map(|_| "***"))
            .field("metrics_listen", &self.metrics_listen)
            .finish()
    }
}

/// Hide a password inside a database URL (`postgres://u:pw@h/db` -> `postgres://u:***@h/db`):
/// the credentials end at the last `@` before the path, and the query string (which may carry
/// `password=`, `sslpassword=` or `passfile=`) is dropped as a whole.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    if scheme.starts_with("sqlite") {
        return url.to_string(); // a file name and its mode: nothing secret
    }
    let (rest, query) = match rest.split_once('?') {
        Some((r, _)) => (r, "?***"),
        None => (rest, ""),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let authority = match authority.rsplit_once('@') {
        Some((creds, host)) => match creds.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => format!("{creds}@{host}"),
        },
        None => authority.to_string(),
    };
    format!("{scheme}://{authority}{path}{query}")
}

/// A configuration problem, reported before the server starts.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(pub String);

fn parse_bool(name: &str, v: &str) -> Result<bool, ConfigError> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(ConfigError(format!(
            "{name} must be true or false, got {v:?}"
        ))),
    }
}

impl Config {
    /// Read the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Read the configuration from any key lookup (tests pass a map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let data_dir = PathBuf::from(get("HALITE_DATA_DIR").unwrap_or_else(|| "data".into()));
        let database_url = get("DATABASE_URL")
            .unwrap_or_else(|| format!("sqlite://{}/halite.db?mode=rwc", data_dir.display()));
        if crate::server::db::Engine::of_url(&database_url).is_none() {
            return Err(ConfigError(format!(
                "DATABASE_URL must be a sqlite: or postgres:// URL (got {})",
                redact_url(&database_url)
            )));
        }
        let production = get("HALITE_ENV")
            .map(|v| v == "production")
            .unwrap_or(false);
        let (cookie_secret, generated) = match get("COOKIE_SECRET") {
            Some(s) if s.len() >= 32 => (s, false),
            Some(_) => {
                return Err(ConfigError(
                    "COOKIE_SECRET must be at least 32 characters".into(),
                ))
            }
            None if production => {
                return Err(ConfigError(
                    "COOKIE_SECRET is required when HALITE_ENV=production".into(),
                ))
            }
            None => (String::new(), true),
        };
        let session_ttl_minutes: i64 = match get("SESSION_TTL_MINUTES") {
            None => 480,
            Some(v) => v
                .trim()
                .parse()
                .ok()
                .filter(|n| (1..=525_600).contains(n))
                .ok_or_else(|| {
                    ConfigError(format!(
                        "SESSION_TTL_MINUTES must be a whole number of minutes from 1 to 525600, got {v:?}"
                    ))
                })?,
        };
        let listen_port: u16 = match get("LISTEN_PORT") {
            None => 8080,
            Some(v) => v.trim().parse().map_err(|_| {
                ConfigError(format!("LISTEN_PORT must be a port number, got {v:?}"))
            })?,
        };
        let log_format = match get("LOG_FORMAT").as_deref().map(str::trim) {
            None | Some("json") => LogFormat::Json,
            Some("text") => LogFormat::Text,
            Some(other) => {
                return Err(ConfigError(format!(
                    "LOG_FORMAT must be json or text, got {other:?}"
                )))
            }
        };
        let log_level = get("LOG_LEVEL").unwrap_or_else(|| "info".into());
        let level_ok = matches!(
            log_level.to_ascii_lowercase().as_str(),
            "trace" | "debug" | "info" | "warning" | "warn" | "error" | "critical"
        );
        if !level_ok {
            return Err(ConfigError(format!(
                "LOG_LEVEL must be one of debug, info, warning, error, critical; got {log_level:?}"
            )));
        }
        let cookie_name = get("COOKIE_NAME").unwrap_or_else(|| "halite_session".into());
        if cookie_name.is_empty()
            || !cookie_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(ConfigError(
                "COOKIE_NAME may hold only letters, digits, '_' and '-'".into(),
            ));
        }
        let trusted_proxies = match get("TRUSTED_PROXIES") {
            None => vec![],
            Some(v) => parse_proxies(&v)?,
        };
        let metrics_token = match get("METRICS_TOKEN") {
            None => None,
            Some(t) if t.is_empty() => None,
            Some(t)
                if t.len() < 16 || t.len() > 256 || !t.bytes().all(|b| b.is_ascii_graphic()) =>
            {
                return Err(ConfigError(
                    "METRICS_TOKEN must be 16 to 256 printable characters without spaces".into(),
                ))
            }
            Some(t) => Some(t),
        };
        let metrics_listen = match get("METRICS_LISTEN").as_deref().map(str::trim) {
            None | Some("") => None,
            Some(v) => Some(v.parse().map_err(|_| {
                ConfigError(format!(
                    "METRICS_LISTEN must be an address and port such as 127.0.0.1:9090, got {v:?}"
                ))
            })?),
        };
        Ok(Config {
            trusted_proxies,
            metrics_token,
            metrics_listen,
            database_url,
            data_dir,
            cookie_secret,
            cookie_secret_generated: generated,
            cookie_name,
            cookie_secure: match get("COOKIE_SECURE") {
                None => true,
                Some(v) => parse_bool("COOKIE_SECURE", &v)?,
            },
            session_ttl_minutes,
            listen_host: get("LISTEN_HOST").unwrap_or_else(|| "127.0.0.1".into()),
            listen_port,
            log_level,
            log_format,
            bootstrap_admin_username: get("BOOTSTRAP_ADMIN_USERNAME")
                .unwrap_or_else(|| "admin".into()),
            bootstrap_admin_password: get("BOOTSTRAP_ADMIN_PASSWORD")
                .unwrap_or_else(|| "changeme".into()),
            site_root: get("LEPTOS_SITE_ROOT").unwrap_or_else(|| "target/site".into()),
            build_hash: get("BUILD_HASH")
                .or_else(|| option_env!("BUILD_HASH").map(String::from))
                .unwrap_or_else(|| "Dev".into()),
            login_max_failures: 5,
            login_window_secs: 15 * 60,
            salt_health_interval_secs: match get("SALT_HEALTH_INTERVAL_SECONDS") {
                None => 15,
                Some(v) => v
                    .trim()
                    .parse()
                    .ok()
                    .filter(|n| (1..=3600).contains(n))
                    .ok_or_else(|| {
                        ConfigError(format!(
                            "SALT_HEALTH_INTERVAL_SECONDS must be 1 to 3600, got {v:?}"
                        ))
                    })?,
            },
        })
    }

    /// Fill in a generated cookie secret (dev runs) kept in `data/cookie_secret`.
    pub fn ensure_cookie_secret(&mut self) -> Result<(), ConfigError> {
        if !self.cookie_secret.is_empty() {
            return Ok(());
        }
        let path = self.data_dir.join("cookie_secret");
        if let Ok(existing) = std::fs::read_to_string(&path) {
            let s = existing.trim().to_string();
            if s.len() >= 32 {
                self.cookie_secret = s;
                return Ok(());
            }
        }
        std::fs::create_dir_all(&self.data_dir)
            .map_err(|e| ConfigError(format!("cannot create {}: {e}", self.data_dir.display())))?;
        use rand::RngCore;
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        let secret = hex::encode(bytes);
        write_private(&path, &secret)
            .map_err(|e| ConfigError(format!("cannot write {}: {e}", path.display())))?;
        self.cookie_secret = secret;
        Ok(())
    }
}

/// `TRUSTED_PROXIES`: comma-separated CIDRs or single addresses (`10.0.0.0/8, 127.0.0.1`).
pub fn parse_proxies(v: &str) -> Result<Vec<ipnet::IpNet>, ConfigError> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<ipnet::IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    ConfigError(format!(
                        "TRUSTED_PROXIES must be a comma-separated list of CIDRs or addresses \
                         (e.g. 10.0.0.0/8, 127.0.0.1); {s:?} is neither"
                    ))
                })
        })
        .collect()
}

/// Write a new secret file that is private (0600) from the moment it exists: never world-readable,
/// not even between the write and a later chmod.
fn write_private(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    #[cfg(unix)]
    {
        // An older file (created before this rule) keeps its mode on open: fix it too.
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    f.write_all(contents.as_bytes())?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| m.get(k).cloned())
    }

    #[test]
    fn defaults() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c.database_url, "sqlite://data/halite.db?mode=rwc");
        assert_eq!(c.cookie_name, "halite_session");
        assert!(c.cookie_secure);
        assert_eq!(c.session_ttl_minutes, 480);
        assert_eq!(c.listen_port, 8080);
        assert_eq!(c.log_format, LogFormat::Json);
        assert!(c.cookie_secret_generated);
        assert_eq!(c.bootstrap_admin_username, "admin");
    }

    #[test]
    fn rejects_bad_values() {
        assert!(cfg(&[("COOKIE_SECRET", "short")]).is_err());
        assert!(cfg(&[("SESSION_TTL_MINUTES", "0")]).is_err());
        assert!(cfg(&[("SESSION_TTL_MINUTES", "abc")]).is_err());
        assert!(cfg(&[("COOKIE_SECURE", "maybe")]).is_err());
        assert!(cfg(&[("LOG_FORMAT", "xml")]).is_err());
        assert!(cfg(&[("LISTEN_PORT", "99999")]).is_err());
        assert!(cfg(&[("HALITE_ENV", "production")]).is_err());
        assert!(cfg(&[("COOKIE_NAME", "bad name;")]).is_err());
        assert!(cfg(&[("DATABASE_URL", "mysql://x")]).is_err());
        assert!(cfg(&[("DATABASE_URL", "postgres://h/db")]).is_ok());
        assert!(cfg(&[("DATABASE_URL", "postgresql://u:pw@h:5432/db")]).is_ok());
        assert!(cfg(&[("TRUSTED_PROXIES", "10.0.0.0/33")]).is_err());
        assert!(cfg(&[("TRUSTED_PROXIES", "proxy.example")]).is_err());
    }

    #[test]
    fn trusted_proxies() {
        assert!(cfg(&[]).unwrap().trusted_proxies.is_empty());
        let c = cfg(&[("TRUSTED_PROXIES", " 10.0.0.0/8, 127.0.0.1 ,::1")]).unwrap();
        assert_eq!(c.trusted_proxies.len(), 3);
        assert!(c.trusted_proxies[1].contains(&"127.0.0.1".parse::<std::net::IpAddr>().unwrap()));
    }

    #[cfg(unix)]
    #[test]
    fn generated_cookie_secret_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let mut c = cfg(&[("HALITE_DATA_DIR", dir.path().to_str().unwrap())]).unwrap();
        c.ensure_cookie_secret().unwrap();
        let meta = std::fs::metadata(dir.path().join("cookie_secret")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert!(c.cookie_secret.len() >= 32);
    }

    #[test]
    fn reads_values() {
        let c = cfg(&[
            ("COOKIE_SECRET", "0123456789abcdef0123456789abcdef"),
            ("COOKIE_SECURE", "false"),
            ("SESSION_TTL_MINUTES", "60"),
            ("LOG_FORMAT", "text"),
            ("HALITE_DATA_DIR", "/tmp/x"),
        ])
        .unwrap();
        assert!(!c.cookie_secure && !c.cookie_secret_generated);
        assert_eq!(c.session_ttl_minutes, 60);
        assert_eq!(c.log_format, LogFormat::Text);
        assert_eq!(c.database_url, "sqlite:///tmp/x/halite.db?mode=rwc");
    }

    #[test]
    fn debug_hides_secrets() {
        let c = cfg(&[("COOKIE_SECRET", "SUPERSECRETSUPERSECRETSUPERSECRET!!")]).unwrap();
        assert!(!format!("{c:?}").contains("SUPERSECRET"));
        assert_eq!(redact_url("postgres://u:pw@h/db"), "postgres://u:***@h/db");
        assert_eq!(
            redact_url("postgres://u:p@ss@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(
            redact_url("postgres://u@h/db?password=secret&sslmode=require"),
            "postgres://u@h/db?***"
        );
        assert_eq!(redact_url("postgres://u:pw@h"), "postgres://u:***@h");
    }
}
