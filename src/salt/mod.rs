//! The salt-api (rest_cherrypy) client: login and token refresh, retries, lowstate calls,
//! typed replies and the `/events` stream. Salt's wire shapes stay inside this module.

pub mod events;
pub mod packages;
pub mod replies;
pub mod state;

use reqwest::StatusCode;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::Mutex;

pub use replies::*;

/// What can go wrong talking to salt-api.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SaltError {
    /// Transport failure (connection refused, DNS, TLS, timeout) after retries.
    #[error("Salt API unreachable: {0}")]
    Unavailable(String),
    /// salt-api answered, but not with success.
    #[error("Salt API error {status}: {message}")]
    Api { status: u16, message: String },
}

impl SaltError {
    fn api(status: u16, message: impl Into<String>) -> Self {
        SaltError::Api {
            status,
            message: message.into(),
        }
    }
}

/// The salt-api password. It cannot be printed: `Debug` shows `[REDACTED]`, and there is no
/// `Display` or `Serialize`; the login request is the one place that reads it
/// ([`SaltPassword::expose`]).
#[derive(Clone, PartialEq, Eq)]
pub struct SaltPassword(String);

impl SaltPassword {
    /// Wrap a password.
    pub fn new(password: impl Into<String>) -> Self {
        SaltPassword(password.into())
    }

    /// The password itself, for the login request (and the encryption at rest).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for SaltPassword {
    fn from(s: String) -> Self {
        SaltPassword(s)
    }
}

impl From<&str> for SaltPassword {
    fn from(s: &str) -> Self {
        SaltPassword(s.to_string())
    }
}

impl std::fmt::Debug for SaltPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// Connection settings for one client.
#[derive(Clone)]
pub struct SaltConfig {
    pub url: String,
    pub username: String,
    pub password: SaltPassword,
    pub eauth: String,
    pub verify_tls: bool,
    /// Per-request timeout for ordinary calls.
    pub timeout: Duration,
}

impl std::fmt::Debug for SaltConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SaltConfig")
            .field("url", &self.url)
            .field("username", &self.username)
            .field("password", &self.password)
            .field("eauth", &self.eauth)
            .field("verify_tls", &self.verify_tls)
            .finish()
    }
}

#[derive(Clone)]
struct Token {
    value: String,
    expire: f64,
}

/// Retry policy for 5xx and transport failures.
const RETRIES: u32 = 3;
const BACKOFF_BASE: Duration = Duration::from_millis(500);
const BACKOFF_CAP: Duration = Duration::from_secs(4);

fn backoff(attempt: u32) -> Duration {
    (BACKOFF_BASE * 2u32.saturating_pow(attempt)).min(BACKOFF_CAP)
}

fn now_epoch() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// One salt-api connection with its token. Cheap to share behind an `Arc`.
pub struct SaltClient {
    cfg: SaltConfig,
    http: reqwest::Client,
    token: Mutex<Option<Token>>,
    logins: AtomicU64,
}

impl std::fmt::Debug for SaltClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SaltClient")
            .field("cfg", &self.cfg)
            .finish()
    }
}

impl SaltClient {
    /// Build a client (no network traffic until the first call).
    pub fn new(cfg: SaltConfig) -> Result<Self, SaltError> {
        let url = cfg.url.trim_end_matches('/').to_string();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            // A redirect would re-send the login body and the token to wherever it points.
            .redirect(reqwest::redirect::Policy::none())
            .danger_accept_invalid_certs(!cfg.verify_tls)
            .user_agent(concat!("halite/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SaltError::Unavailable(format!("cannot build HTTP client: {e}")))?;
        Ok(SaltClient {
            cfg: SaltConfig { url, ..cfg },
            http,
            token: Mutex::new(None),
            logins: AtomicU64::new(0),
        })
    }

    /// The base URL this client talks to.
    pub fn url(&self) -> &str {
        &self.cfg.url
    }

    /// How many times this client has logged in (tests check "one login for N callers").
    pub fn login_count(&self) -> u64 {
        self.logins.load(Ordering::Relaxed)
    }

    /// Drop the cached token so the next call logs in again.
    pub async fn forget_token(&self) {
        *self.token.lock().await = None;
    }

    /// Replace the cached token's value (tests simulate a salt-api restart with it).
    pub async fn corrupt_token_for_tests(&self) {
        if let Some(t) = self.token.lock().await.as_mut() {
            t.value = "invalid-token".into();
        }
    }

    /// Log in now, replacing any cached token.
    pub async fn login(&self) -> Result<LoginInfo, SaltError> {
        let mut guard = self.token.lock().await;
        let info = self.do_login().await?;
        *guard = Some(Token {
            value: info.token.clone(),
            expire: info.expire,
        });
        Ok(info)
    }

    async fn do_login(&self) -> Result<LoginInfo, SaltError> {
        let started = std::time::Instant::now();
        let r = self.do_login_once().await;
        observe_call("login", started, &r);
        r
    }

    async fn do_login_once(&self) -> Result<LoginInfo, SaltError> {
        let body = json!({
            "username": self.cfg.username,
            "password": self.cfg.password.expose(),
            "eauth": self.cfg.eauth,
        });
        let mut attempt = 0;
        loop {
            let res = self
                .http
                .post(format!("{}/login", self.cfg.url))
                .header("Accept", "application/json")
                .json(&body)
                .timeout(self.cfg.timeout)
                .send()
                .await;
            match res {
                Err(e) if attempt < RETRIES => {
                    tracing::debug!(error = %e, attempt, "salt-api login transport error; retrying");
                }
                Err(e) => return Err(SaltError::Unavailable(describe_reqwest(&e))),
                Ok(r) if r.status().is_server_error() && attempt < RETRIES => {}
                Ok(r) => {
                    let status = r.status();
                    let text = r
                        .text()
                        .await
                        .map_err(|e| SaltError::Unavailable(describe_reqwest(&e)))?;
                    if status == StatusCode::UNAUTHORIZED {
                        return Err(SaltError::api(
                            401,
                            "salt-api refused the credentials (check username, password and eauth)",
                        ));
                    }
                    if !status.is_success() {
                        return Err(SaltError::api(status.as_u16(), error_message(&text)));
                    }
                    self.logins.fetch_add(1, Ordering::Relaxed);
                    return parse_login(&text);
                }
            }
            tokio::time::sleep(backoff(attempt)).await;
            attempt += 1;
        }
    }

    /// A valid token: logs in lazily, and again when < 60 s remain. One login for N callers.
    async fn token(&self) -> Result<String, SaltError> {
        let mut guard = self.token.lock().await;
        if let Some(t) = guard.as_ref() {
            if t.expire - now_epoch() > 60.0 {
                return Ok(t.value.clone());
            }
        }
        let info = self.do_login().await?;
        let value = info.token.clone();
        *guard = Some(Token {
            value: info.token,
            expire: info.expire,
        });
        Ok(value)
    }

    /// A request to salt-api's `path` accepting `accept`, with a valid token (header auth).
    async fn authed(
        &self,
        method: reqwest::Method,
        path: &str,
        accept: &str,
    ) -> Result<reqwest::RequestBuilder, SaltError> {
        let token = self.token().await?;
        Ok(self
            .http
            .request(method, format!("{}{path}", self.cfg.url))
            .header("Accept", accept)
            .header("X-Auth-Token", &token))
    }

    /// POST one lowstate and return `return[0]`. Retries 5xx/transport; re-logs in once on 401.
    pub async fn call(
        &self,
        lowstate: Value,
        timeout: Option<Duration>,
    ) -> Result<Value, SaltError> {
        first_return(&self.call_raw(lowstate, timeout).await?)
    }

    /// POST one lowstate and return the raw response body (for replies too large to build a
    /// JSON tree of, such as `cache.grains` of 10,000 minions).
    pub async fn call_raw(
        &self,
        lowstate: Value,
        timeout: Option<Duration>,
    ) -> Result<String, SaltError> {
        let started = std::time::Instant::now();
        let label = call_label(&lowstate);
        let r = self.call_raw_once(lowstate, timeout).await;
        observe_call(&label, started, &r);
        r
    }

    async fn call_raw_once(
        &self,
        lowstate: Value,
        timeout: Option<Duration>,
    ) -> Result<String, SaltError> {
        let body = Value::Array(vec![lowstate]);
        let timeout = timeout.unwrap_or(self.cfg.timeout);
        let mut relogged = false;
        let mut attempt = 0;
        loop {
            let res = self
                .authed(reqwest::Method::POST, "/", "application/json")
                .await?
                .json(&body)
                .timeout(timeout)
                .send()
                .await;
            match res {
                Err(e) => {
                    if attempt >= RETRIES || e.is_timeout() {
                        return Err(SaltError::Unavailable(describe_reqwest(&e)));
                    }
                }
                Ok(r) => {
                    let status = r.status();
                    if status == StatusCode::UNAUTHORIZED && !relogged {
                        // salt-api restarts invalidate tokens before `expire`: log in once more.
                        relogged = true;
                        self.forget_token().await;
                        continue;
                    }
                    if status.is_server_error() && attempt < RETRIES {
                        tracing::debug!(%status, attempt, "salt-api 5xx; retrying");
                    } else {
                        let text = r
                            .text()
                            .await
                            .map_err(|e| SaltError::Unavailable(describe_reqwest(&e)))?;
                        if !status.is_success() {
                            return Err(SaltError::api(status.as_u16(), error_message(&text)));
                        }
                        return Ok(text);
                    }
                }
            }
            tokio::time::sleep(backoff(attempt)).await;
            attempt += 1;
        }
    }

    /// Is netapi `client` enabled, and may this user call it? One harmless call: `local*` target
    /// a minion id that cannot exist (Salt answers at once with no minions), `runner`
    /// `manage.present`, `wheel` `key.list_all`. A disabled client is a 400 whose message says
    /// `Client disabled`.
    pub async fn probe_client(&self, client: &str) -> Result<(), SaltError> {
        let low = match client {
            "local" | "local_async" => json!({
                "client": client, "tgt": PROBE_TARGET, "tgt_type": "list", "fun": "test.ping",
            }),
            "local_batch" => json!({
                "client": client, "tgt": PROBE_TARGET, "tgt_type": "list", "fun": "test.ping",
                "batch": "1",
            }),
            "runner" => json!({ "client": "runner", "fun": "manage.present" }),
            "wheel" => json!({ "client": "wheel", "fun": "key.list_all" }),
            other => {
                return Err(SaltError::api(
                    400,
                    format!("no probe for client {other:?}"),
                ))
            }
        };
        self.call_raw(low, Some(Duration::from_secs(15)))
            .await
            .map(|_| ())
    }

    /// The master's Salt version (`runner salt.cmd test.version`, run on the master itself).
    pub async fn master_version(&self) -> Result<String, SaltError> {
        let v = self
            .call(
                json!({ "client": "runner", "fun": "salt.cmd", "arg": ["test.version"] }),
                Some(Duration::from_secs(15)),
            )
            .await?;
        match v {
            Value::String(s) if !s.is_empty() && s.len() < 64 => Ok(s),
            other => Err(SaltError::api(
                200,
                format!("unexpected test.version reply: {}", truncate_json(&other)),
            )),
        }
    }

    /// `GET /` (no auth needed): cheap reachability probe.
    pub async fn ping(&self) -> Result<(), SaltError> {
        let started = std::time::Instant::now();
        let r = self.ping_once().await;
        observe_call("ping", started, &r);
        r
    }

    async fn ping_once(&self) -> Result<(), SaltError> {
        let r = self
            .http
            .get(format!("{}/", self.cfg.url))
            .header("Accept", "application/json")
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .map_err(|e| SaltError::Unavailable(describe_reqwest(&e)))?;
        if r.status().is_success() {
            Ok(())
        } else {
            Err(SaltError::api(
                r.status().as_u16(),
                "salt-api answered / with an error",
            ))
        }
    }

    /// Wheel call; returns `data.return`, or an error when `data.success` is false.
    pub async fn wheel(&self, fun: &str, extra: Map<String, Value>) -> Result<Value, SaltError> {
        let mut low = extra;
        low.insert("client".into(), "wheel".into());
        low.insert("fun".into(), fun.into());
        unwrap_wheel(fun, self.call(Value::Object(low), None).await?)
    }

    /// Runner call; returns the bare value. A string where a structure was expected is an error
    /// (runner exceptions come back as 200 with a string).
    pub async fn runner(&self, fun: &str, extra: Map<String, Value>) -> Result<Value, SaltError> {
        let mut low = extra;
        low.insert("client".into(), "runner".into());
        low.insert("fun".into(), fun.into());
        self.call(Value::Object(low), None).await
    }

    /// Synchronous `local` call with `full_return`, so a minion that did not answer is
    /// never confused with one that returned `false`.
    pub async fn local(&self, req: &LocalRequest) -> Result<LocalReturns, SaltError> {
        let mut low = req.lowstate("local");
        low["full_return"] = Value::Bool(true);
        let wait = Duration::from_secs(req.timeout_secs.unwrap_or(30) + 30);
        parse_local_returns(self.call(low, Some(wait)).await?)
    }

    /// `local_async`: returns the JID and targeted minions at once (`None` when nothing matched).
    pub async fn local_async(&self, req: &LocalRequest) -> Result<Option<AsyncJob>, SaltError> {
        parse_async_job(self.call(req.lowstate("local_async"), None).await?)
    }

    /// `local_batch`: runs in batches of `batch` (a count or a percentage) and blocks until the
    /// last batch returns; the reply is flattened to one `{minion: value}` item per answer.
    pub async fn local_batch(
        &self,
        req: &LocalRequest,
        batch: &str,
    ) -> Result<BTreeMap<String, Value>, SaltError> {
        let mut low = req.lowstate("local_batch");
        low["batch"] = batch.into();
        let body = self
            .call_raw(low, Some(Duration::from_secs(6 * 3600)))
            .await?;
        let v: Value = serde_json::from_str(&body)
            .map_err(|e| SaltError::api(502, format!("local_batch reply is not JSON: {e}")))?;
        let mut out = BTreeMap::new();
        for item in v
            .get("return")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(m) = item.as_object() {
                for (k, val) in m {
                    out.insert(k.clone(), val.clone());
                }
            }
        }
        Ok(out)
    }

    /// The minions a target matches, resolved by the master from its cache (`runner
    /// cache.grains tgt tgt_type`), without a round trip to any minion.
    pub async fn match_targets(&self, tgt: &str, tgt_type: &str) -> Result<Vec<String>, SaltError> {
        let grains = self.cache_grains_raw(tgt, tgt_type).await?;
        let mut ids: Vec<String> = grains.iter().map(|(id, _)| id.clone()).collect();
        ids.sort();
        Ok(ids)
    }

    // ---- typed calls --------------------------------------------------------------------

    /// `wheel key.list_all`.
    pub async fn key_list_all(&self) -> Result<KeyLists, SaltError> {
        parse_key_lists(self.wheel("key.list_all", Map::new()).await?)
    }

    /// `wheel key.finger match=ID`: (key state, fingerprint) pairs.
    pub async fn key_finger(&self, id: &str) -> Result<Vec<KeyFingerprint>, SaltError> {
        let mut m = Map::new();
        m.insert("match".into(), id.into());
        parse_key_finger(self.wheel("key.finger", m).await?)
    }

    /// `wheel key.accept|reject|delete match=ID` (also from the other states); returns the
    /// ids the master reports as changed.
    pub async fn key_action(&self, action: KeyAction, id: &str) -> Result<Vec<String>, SaltError> {
        let mut m = Map::new();
        m.insert("match".into(), id.into());
        match action {
            KeyAction::Accept => {
                m.insert("include_rejected".into(), true.into());
                m.insert("include_denied".into(), true.into());
            }
            KeyAction::Reject => {
                m.insert("include_accepted".into(), true.into());
                m.insert("include_denied".into(), true.into());
            }
            KeyAction::Delete => {}
        }
        let v = self.wheel(action.wheel_fun(), m).await?;
        Ok(changed_key_ids(&v))
    }

    /// `runner manage.present`.
    pub async fn manage_present(&self) -> Result<Vec<String>, SaltError> {
        parse_string_list(
            "manage.present",
            self.runner("manage.present", Map::new()).await?,
        )
    }

    /// `runner manage.present show_ip=true`: `{minion: ip}`.
    pub async fn manage_present_ips(
        &self,
    ) -> Result<std::collections::BTreeMap<String, String>, SaltError> {
        let mut m = Map::new();
        m.insert("show_ip".into(), true.into());
        parse_present_ips(self.runner("manage.present", m).await?)
    }

    /// `runner cache.grains` (the master's cache, no minion round trip).
    pub async fn cache_grains(
        &self,
        tgt: &str,
        tgt_type: &str,
    ) -> Result<Map<String, Value>, SaltError> {
        let mut m = Map::new();
        m.insert("tgt".into(), tgt.into());
        m.insert("tgt_type".into(), tgt_type.into());
        expect_object("cache.grains", self.runner("cache.grains", m).await?)
    }

    /// `runner cache.grains` as raw per-minion JSON (no tree for the whole fleet is built).
    pub async fn cache_grains_raw(
        &self,
        tgt: &str,
        tgt_type: &str,
    ) -> Result<RawGrains, SaltError> {
        let low =
            json!({ "client": "runner", "fun": "cache.grains", "tgt": tgt, "tgt_type": tgt_type });
        parse_grains_raw(&self.call_raw(low, Some(Duration::from_secs(120))).await?)
    }

    /// `runner jobs.list_jobs`, optionally from a start time (`YYYY-MM-DD HH:MM:SS`, master local time).
    pub async fn list_jobs(&self, start_time: Option<&str>) -> Result<Vec<JobSummary>, SaltError> {
        let mut m = Map::new();
        if let Some(s) = start_time {
            m.insert("start_time".into(), s.into());
        }
        parse_list_jobs(self.runner("jobs.list_jobs", m).await?)
    }

    /// `runner jobs.list_job jid=...`.
    pub async fn list_job(&self, jid: &str) -> Result<JobDetail, SaltError> {
        let mut m = Map::new();
        m.insert("jid".into(), jid.into());
        parse_list_job(self.runner("jobs.list_job", m).await?)
    }

    /// `runner jobs.active`.
    pub async fn jobs_active(&self) -> Result<Vec<ActiveJob>, SaltError> {
        parse_jobs_active(self.runner("jobs.active", Map::new()).await?)
    }

    /// `local saltutil.kill_job arg=[jid]` over the given minions.
    pub async fn kill_job(&self, jid: &str, minions: &[String]) -> Result<LocalReturns, SaltError> {
        self.local(&LocalRequest {
            tgt: Value::from(minions.to_vec()),
            tgt_type: "list".into(),
            fun: "saltutil.kill_job".into(),
            arg: vec![Value::from(jid)],
            kwarg: Map::new(),
            timeout_secs: Some(15),
        })
        .await
    }

    /// `local sys.list_functions` on a target.
    pub async fn sys_list_functions(&self, tgt: &str) -> Result<LocalReturns, SaltError> {
        self.local(&LocalRequest::simple(tgt, "glob", "sys.list_functions"))
            .await
    }

    /// Open the `/events` stream (header auth). Reconnecting is the caller's job.
    pub async fn events(&self) -> Result<events::EventStream, SaltError> {
        let started = std::time::Instant::now();
        let r = self.events_once().await;
        observe_call("events", started, &r);
        r
    }

    async fn events_once(&self) -> Result<events::EventStream, SaltError> {
        let mut relogged = false;
        loop {
            let r = self
                .authed(reqwest::Method::GET, "/events", "text/event-stream")
                .await?
                .send()
                .await
                .map_err(|e| SaltError::Unavailable(describe_reqwest(&e)))?;
            if r.status() == StatusCode::UNAUTHORIZED && !relogged {
                relogged = true;
                self.forget_token().await;
                continue;
            }
            if !r.status().is_success() {
                let status = r.status().as_u16();
                let text = r.text().await.unwrap_or_default();
                return Err(SaltError::api(status, error_message(&text)));
            }
            return Ok(events::EventStream::new(r));
        }
    }
}

/// Key actions the UI offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAction {
    Accept,
    Reject,
    Delete,
}

impl KeyAction {
    fn wheel_fun(self) -> &'static str {
        match self {
            KeyAction::Accept => "key.accept",
            KeyAction::Reject => "key.reject",
            KeyAction::Delete => "key.delete",
        }
    }
}

/// A `local`/`local_async` request.
#[derive(Debug, Clone)]
pub struct LocalRequest {
    /// A string for most target types, a list for `list`.
    pub tgt: Value,
    pub tgt_type: String,
    pub fun: String,
    pub arg: Vec<Value>,
    pub kwarg: Map<String, Value>,
    pub timeout_secs: Option<u64>,
}

impl LocalRequest {
    /// Target + function, no arguments.
    pub fn simple(tgt: &str, tgt_type: &str, fun: &str) -> Self {
        LocalRequest {
            tgt: tgt.into(),
            tgt_type: tgt_type.into(),
            fun: fun.into(),
            arg: vec![],
            kwarg: Map::new(),
            timeout_secs: None,
        }
    }

    fn lowstate(&self, client: &str) -> Value {
        let mut low = json!({
            "client": client,
            "tgt": self.tgt,
            "tgt_type": self.tgt_type,
            "fun": self.fun,
            "arg": self.arg,
        });
        if !self.kwarg.is_empty() {
            low["kwarg"] = Value::Object(self.kwarg.clone());
        }
        if let Some(t) = self.timeout_secs {
            low["timeout"] = t.into();
        }
        low
    }
}

/// A minion id no minion can have (ids never contain a space): the target of the `local*`
/// client probes, so they run nothing anywhere.
const PROBE_TARGET: &str = "halite diagnostics probe";

fn truncate_json(v: &Value) -> String {
    let s = v.to_string();
    s.chars().take(120).collect()
}

/// The `call` label of a lowstate for the salt-api metrics: the client, and for `runner` and
/// `wheel` the function too (Halite's own fixed set). A `local` function comes from the Run
/// page, so it is left out to keep the label set small.
fn call_label(lowstate: &Value) -> String {
    let client = lowstate
        .get("client")
        .and_then(Value::as_str)
        .unwrap_or("unknown");
    match (client, lowstate.get("fun").and_then(Value::as_str)) {
        ("runner" | "wheel", Some(fun)) => format!("{client}:{fun}"),
        ("local" | "local_async" | "local_batch" | "runner" | "wheel", _) => client.to_string(),
        _ => "other".to_string(),
    }
}

/// Count and time one salt-api request (retries included) for `/metrics`.
fn observe_call<T>(call: &str, started: std::time::Instant, r: &Result<T, SaltError>) {
    let outcome = match r {
        Ok(_) => "ok",
        Err(SaltError::Unavailable(_)) => "unavailable",
        Err(SaltError::Api {
            status: 401 | 403, ..
        }) => "refused",
        Err(_) => "error",
    };
    metrics::counter!("halite_salt_api_requests_total",
        "call" => call.to_string(), "outcome" => outcome)
    .increment(1);
    metrics::histogram!("halite_salt_api_duration_seconds", "call" => call.to_string())
        .record(started.elapsed().as_secs_f64());
}

fn describe_reqwest(e: &reqwest::Error) -> String {
    let mut msg = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "connection failed".to_string()
    } else {
        "request failed".to_string()
    };
    let mut src: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(s) = src {
        let text = s.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        src = s.source();
    }
    msg
}
