//! Security fuzz suite (issue 10, "Fuzzing"): every server function and route gets malformed
//! and hostile input from a seeded generator (wrong types, huge strings, unicode, NUL bytes,
//! negative and huge numbers, glob and comma characters, deep JSON, wrong content types, wrong
//! methods, missing and extra fields), as an anonymous user, a viewer and an admin.
//!
//! Expected: no panic, no 5xx except a 503 from an endpoint that needs Salt (Salt is not
//! configured here; counted separately), and no change to data the caller may not change.
//! `HALITE_FUZZ_SEED=<n>` replays a run; `HALITE_FUZZ_PER_IDENTITY=<n>` sizes it.
//!
//! Its own test binary, not a module of `tests/it`: run in one process beside the other
//! integration tests (many apps, many tokio runtimes), a request to an unknown path sometimes got
//! no answer within the fuzzer's 20 s limit; alone it never did. That was a stalled page render,
//! which the page watchdog now renders again (src/server/page_watchdog.rs, docs/testing.md).
#![cfg(feature = "ssr")]

#[path = "it/common/mod.rs"]
mod common;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Method, Request, StatusCode};
use common::{urlencode, TestApp};
use futures::FutureExt;
use http_body_util::BodyExt;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};
use tower::ServiceExt;

/// Every server function (path under `/api/`) and its argument names, as in src/app/api/*.rs.
/// `fuzzer_knows_every_endpoint` fails when this table and the code disagree.
const ENDPOINTS: &[(&str, &[&str])] = &[
    (
        "activity/list",
        &[
            "category",
            "event_type",
            "minion",
            "q",
            "hide_routine",
            "hide_dispatch",
            "range",
            "since_minutes",
            "after_id",
            "page",
            "per_page",
        ],
    ),
    ("activity/raw", &["id"]),
    ("activity/widget-config", &[]),
    (
        "audit/list",
        &[
            "user", "action", "decision", "resource", "since", "until", "page", "per_page",
        ],
    ),
    ("audit/get", &["id"]),
    (
        "fleet/list",
        &["q", "status", "failing", "sort", "dir", "page", "per_page"],
    ),
    ("fleet/summary", &["tiles", "runs", "failures"]),
    ("fleet/run", &["id"]),
    (
        "inventory/packages",
        &["q", "source", "sort", "dir", "page", "per_page"],
    ),
    ("inventory/versions", &["name", "source"]),
    ("inventory/version-minions", &["id", "page", "per_page"]),
    (
        "inventory/search",
        &[
            "name",
            "name_op",
            "version",
            "version_op",
            "source",
            "minion",
            "page",
            "per_page",
        ],
    ),
    ("inventory/refresh", &["target", "target_type", "progress"]),
    ("inventory/refresh-progress", &["progress"]),
    ("auth/me", &[]),
    ("auth/login", &["username", "password"]),
    ("auth/logout", &[]),
    (
        "auth/change-password",
        &["current_password", "new_password", "confirm_password"],
    ),
    ("prefs/theme", &["theme"]),
    (
        "jobs/list",
        &["q", "status", "system", "live", "page", "per_page"],
    ),
    ("jobs/get", &["jid"]),
    ("jobs/kill", &["jid"]),
    ("keys/list", &["q", "page"]),
    ("palette/search", &["q"]),
    ("keys/pending-count", &[]),
    ("keys/finger", &["id"]),
    ("keys/action", &["action", "ids"]),
    (
        "minions/list",
        &["q", "status", "sort", "dir", "page", "per_page"],
    ),
    ("minions/get", &["id"]),
    ("minions/runs", &["id", "limit"]),
    ("overview/summary", &[]),
    ("run/functions", &[]),
    ("run/preview", &["target", "target_type"]),
    (
        "run/dispatch",
        &[
            "target",
            "target_type",
            "fun",
            "args_json",
            "kwargs_json",
            "batch",
        ],
    ),
    ("run/batch", &["id"]),
    ("settings/get", &[]),
    ("settings/status", &[]),
    ("settings/runtime", &[]),
    ("diagnostics/run", &[]),
    (
        "settings/salt",
        &["url", "username", "password", "eauth", "verify"],
    ),
    (
        "settings/pollers",
        &[
            "minion_state_keys_interval_seconds",
            "minion_state_presence_interval_seconds",
            "minion_state_grains_interval_seconds",
            "minion_state_initial_delay_seconds",
            "jobs_poll_interval_seconds",
            "fleet_poll_interval_seconds",
            "inventory_refresh_minutes",
            "inventory_refresh_initial_delay_s",
            "event_stream_enabled",
            "event_stream_retention_days",
            "jobs_retention_days",
            "audit_retention_days",
        ],
    ),
    (
        "settings/widget",
        &[
            "hide_dispatch",
            "hide_routine",
            "show_jobs",
            "show_keys",
            "show_minions",
            "event_count",
            "heartbeat_minutes",
        ],
    ),
    (
        "settings/test-salt",
        &["url", "username", "password", "eauth", "verify"],
    ),
    ("settings/test-salt-saved", &[]),
    ("templates/list", &[]),
    ("templates/get", &["id"]),
    (
        "templates/create",
        &[
            "name",
            "description",
            "target",
            "target_type",
            "fun",
            "args_json",
            "kwargs_json",
            "is_shared",
        ],
    ),
    ("templates/share", &["id", "is_shared"]),
    ("templates/delete", &["id"]),
    (
        "timeline/get",
        &[
            "window",
            "group_by",
            "include_system",
            "function_filter",
            "user",
        ],
    ),
    ("jobs/activity", &["hours"]),
    ("roles/list", &["q", "sort", "dir", "page", "per_page"]),
    ("roles/get", &["id"]),
    ("roles/create", &["name", "description"]),
    ("roles/update", &["id", "description"]),
    ("roles/delete", &["id"]),
    ("roles/perm-add", &["role_id", "verb", "resource_glob"]),
    ("roles/perm-remove", &["role_id", "permission_id"]),
    ("roles/preview", &["verb", "resource_glob"]),
    ("access/check", &["user_id", "verb", "resource"]),
    ("access/grants", &["user_id"]),
    ("access/minion-ids", &["prefix"]),
    (
        "users/list",
        &["q", "active", "sort", "dir", "page", "per_page"],
    ),
    ("users/get", &["id"]),
    ("users/roles-available", &[]),
    (
        "users/create",
        &[
            "username",
            "display_name",
            "email",
            "password",
            "must_change_pw",
            "role_ids",
        ],
    ),
    (
        "users/update",
        &["id", "profile", "display_name", "email", "is_active"],
    ),
    ("users/password", &["id", "new_password"]),
    ("users/delete", &["id"]),
    ("users/role-add", &["id", "role_id"]),
    ("users/role-remove", &["id", "role_id"]),
];

/// Endpoints where every call may cost an argon2 hash: only this many calls per identity.
const BUDGET: &[(&str, usize)] = &[
    ("auth/login", 10),
    ("auth/change-password", 6),
    ("users/create", 6),
    ("users/password", 6),
];

/// Pages of the app (`:x` segments get fuzzed).
const PAGES: &[&str] = &[
    "/",
    "/login",
    "/change-password",
    "/about",
    "/settings",
    "/activity",
    "/minions",
    "/minions/:x",
    "/keys",
    "/jobs",
    "/jobs/:x",
    "/timeline",
    "/run",
    "/templates",
    "/inventory",
    "/inventory/search",
    "/inventory/:x",
    "/fleet",
    "/fleet/runs/:x",
    "/users",
    "/users/:x",
    "/roles",
    "/roles/:x",
    "/audit",
    "/diagnostics",
];

const ADMIN: (&str, &str) = ("fuzz-admin", "fuzz-admin-password-1");
const VIEWER: (&str, &str) = ("fuzz-viewer", "fuzz-viewer-password-1");

// ---- the endpoint table against the code ----------------------------------------------------

/// `(endpoint, argument names)` of every `#[server(endpoint = "...")]` in src/app/api/*.rs.
fn endpoints_in_source() -> BTreeMap<String, Vec<String>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/app/api");
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let src = std::fs::read_to_string(&path).unwrap();
        let mut rest = src.as_str();
        while let Some(i) = rest.find("#[server(") {
            rest = &rest[i + "#[server(".len()..];
            let attr_end = rest.find(")]").expect("server attribute closes");
            let attr = &rest[..attr_end];
            if !attr.contains("endpoint") {
                continue; // `#[server(default)]` on an argument
            }
            let ep = attr
                .split('"')
                .nth(1)
                .unwrap_or_else(|| panic!("{}: endpoint without a name: {attr}", path.display()));
            let f = rest.find("pub async fn ").expect("server fn follows");
            let sig = &rest[f..];
            let open = sig.find('(').unwrap();
            let mut depth = 0;
            let mut close = open;
            for (j, c) in sig[open..].char_indices() {
                match c {
                    '(' | '<' | '[' => depth += 1,
                    ')' | '>' | ']' => {
                        depth -= 1;
                        if depth == 0 {
                            close = open + j;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let mut args = vec![];
            let mut depth = 0;
            let mut cur = String::new();
            for c in sig[open + 1..close].chars().chain(std::iter::once(',')) {
                match c {
                    '(' | '<' | '[' => depth += 1,
                    ')' | '>' | ']' => depth -= 1,
                    ',' if depth == 0 => {
                        let a = std::mem::take(&mut cur);
                        let mut a = a.trim();
                        while a.starts_with("#[") {
                            a = a[a.find(']').unwrap() + 1..].trim();
                        }
                        if let Some((name, _)) = a.split_once(':') {
                            args.push(name.trim().trim_start_matches("mut ").to_string());
                        }
                        continue;
                    }
                    _ => {}
                }
                cur.push(c);
            }
            out.insert(ep.to_string(), args);
        }
    }
    out
}

#[tokio::test]
async fn fuzzer_knows_every_endpoint() {
    // Build an app so the server-function registry is the one the router serves.
    let _app = TestApp::new().await;
    let table: BTreeMap<String, Vec<String>> = ENDPOINTS
        .iter()
        .map(|(e, a)| (e.to_string(), a.iter().map(|s| s.to_string()).collect()))
        .collect();
    let registered: BTreeSet<String> = leptos::server_fn::axum::server_fn_paths()
        .map(|(p, _)| p.trim_start_matches("/api/").to_string())
        .collect();
    let known: BTreeSet<String> = table.keys().cloned().collect();
    let missing: Vec<_> = registered.difference(&known).collect();
    let stale: Vec<_> = known.difference(&registered).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "server functions the fuzzer does not know: {missing:?}; in its table but gone: {stale:?} \
         (update ENDPOINTS in tests/security_fuzz.rs)"
    );
    let source = endpoints_in_source();
    assert_eq!(
        source.keys().collect::<BTreeSet<_>>(),
        known.iter().collect::<BTreeSet<_>>(),
        "endpoints in src/app/api vs the fuzzer's table"
    );
    for (ep, args) in &source {
        assert_eq!(
            args, &table[ep],
            "arguments of {ep} changed; update ENDPOINTS in tests/security_fuzz.rs"
        );
    }
}

// ---- the generator --------------------------------------------------------------------------

struct Gen {
    rng: StdRng,
    /// Real names and ids of this app (users, templates, minions), so some input hits rows.
    known: Vec<String>,
}

const GLOBS: &[&str] = &[
    "*",
    "?",
    "[",
    "]",
    ",",
    "[a-z]*",
    "[!a]*",
    "[^a]*",
    "web-x,*",
    "web-*",
    "*,*",
    "a,b,c",
    "minion2,web-01",
    "**",
    "\\*",
    "[]",
    "[*]",
    "E@.*",
    "G@os:*",
    "I@x:y",
    "L@a,b",
    "web-01 or *",
    "not *",
];
const NUMBERS: &[&str] = &[
    "0",
    "-1",
    "1",
    "-0",
    "2147483647",
    "-2147483648",
    "4294967296",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "-9223372036854775809",
    "99999999999999999999999999999",
    "1e309",
    "-1e309",
    "1.5",
    "NaN",
    "inf",
    "0x10",
    " 5 ",
    "+7",
    "007",
    "1_000",
    "١٢٣",
];
const BOOLS: &[&str] = &[
    "true", "false", "on", "off", "yes", "no", "1", "0", "TRUE", "2", "null", "",
];
const UNICODE: &[&str] = &[
    "ünïcødé",
    "😀",
    "👩‍👩‍👧‍👦",
    "\u{202e}evil\u{202c}",
    "\u{200b}",
    "e\u{0301}",
    "\u{feff}bom",
    "𝕳𝖆𝖑𝖎𝖙𝖊",
    "日本語",
    "العربية",
    "\u{fffd}",
    "\u{10ffff}",
    "ǅ",
    "ß",
    "İ",
];
const CONTROL: &[&str] = &[
    "\0",
    "a\0b",
    "\0\0\0",
    "\r\n",
    "\n",
    "\t",
    "\u{7f}",
    "\u{1b}[31m",
    "\u{8}",
    "%00",
    "\r",
];
const INJECT: &[&str] = &[
    "' OR 1=1 --",
    "\"; DROP TABLE users; --",
    "%",
    "_",
    "\\",
    "%%",
    "' || (SELECT password_hash FROM users) || '",
    "<script>alert(1)</script>",
    "{{7*7}}",
    "${jndi:ldap://x}",
    "../../etc/passwd",
    "/etc/shadow",
    "..\\..\\windows",
    "; rm -rf /",
    "$(id)",
    "`id`",
    "| cat /etc/passwd",
    "admin",
    "root",
    "salt",
    "cmd.run",
    "test.cross_test",
    "saltutil.cmd",
    "event.fire_master",
    "javascript:alert(1)",
    "file:///etc/passwd",
    "http://127.0.0.1:1",
    "https://127.0.0.1:1/",
    "glob",
    "list",
    "compound",
    "pcre",
    "grain",
    "accept",
    "reject",
    "delete",
    "dark",
    "light",
    "system",
    "minion",
    "key",
    "job",
    "1h",
    "24h",
    "7d",
    "30d",
];
const JSONS: &[&str] = &[
    "{}",
    "[]",
    "null",
    "true",
    "1",
    "\"s\"",
    "[1,2,3]",
    "[\"cmd.run\",\"id\"]",
    "{\"a\":[1,{\"b\":null}]}",
    "{\"password\":\"p\",\"__proto__\":{}}",
    "{\"a\":1,\"a\":2}",
    "[1,",
    "{",
    "{\"a\":}",
    "[\"\\u0000\"]",
    "[1e999]",
    "{\"k\":9223372036854775808}",
];
const HUGE_CHARS: &[&str] = &["a", "*", ",", "ü", "\0", "[", "😀", "%", "&", "="];
/// A cryptic alphabet for random short strings.
const ALPHABET: &[char] = &[
    'a', 'z', 'A', '0', '9', '-', '_', '.', ':', '/', '*', '?', '[', ']', ',', ' ', '\0', '\'',
    '"', '\\', '%', '&', '=', '+', '#', ';', '<', '>', '{', '}', '|', '^', '~', '@', '$', 'ü',
    '😀', '\n', '\u{202e}',
];

impl Gen {
    fn pick<'a>(&mut self, list: &[&'a str]) -> &'a str {
        list.choose(&mut self.rng).copied().unwrap_or("")
    }

    fn huge(&mut self) -> String {
        let bytes = *[1024usize, 16 * 1024, 65536, 200 * 1024]
            .choose(&mut self.rng)
            .unwrap();
        let c = self.pick(HUGE_CHARS);
        c.repeat(bytes / c.len())
    }

    fn deep_json(&mut self) -> String {
        let depth = *[64usize, 129, 1000, 50_000].choose(&mut self.rng).unwrap();
        if self.rng.gen_bool(0.5) {
            format!("{}{}", "[".repeat(depth), "]".repeat(depth))
        } else {
            format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth))
        }
    }

    fn short_random(&mut self) -> String {
        let n = self.rng.gen_range(1..64);
        (0..n)
            .map(|_| *ALPHABET.choose(&mut self.rng).unwrap())
            .collect()
    }

    /// One hostile value (a string; numbers and booleans travel as text in a form anyway).
    fn value(&mut self) -> String {
        match self.rng.gen_range(0..100) {
            0..=9 => {
                let known = self.known.clone();
                known.choose(&mut self.rng).cloned().unwrap_or_default()
            }
            10..=19 => self.pick(NUMBERS).to_string(),
            20..=28 => self.pick(GLOBS).to_string(),
            29..=35 => self.pick(UNICODE).to_string(),
            36..=41 => self.pick(CONTROL).to_string(),
            42..=51 => self.pick(INJECT).to_string(),
            52..=54 => self.huge(),
            55..=58 => self.deep_json(),
            59..=65 => self.pick(JSONS).to_string(),
            66..=71 => self.pick(BOOLS).to_string(),
            72..=76 => " ".repeat(self.rng.gen_range(0..3)),
            77..=89 => self.short_random(),
            _ => {
                // Two small pieces glued together (a known id with a glob, and so on).
                let a = self.small();
                let b = self.small();
                let sep = self.pick(&["", ",", " ", "*", "\0", ":", "/"]);
                format!("{a}{sep}{b}")
            }
        }
    }

    fn small(&mut self) -> String {
        loop {
            let v = self.value();
            if v.len() < 256 {
                return v;
            }
        }
    }
}

// ---- requests -------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Who {
    Anonymous,
    Viewer,
    Admin,
}

struct Fuzz {
    method: Method,
    uri: String,
    content_type: Option<String>,
    origin: Option<String>,
    cookie: Option<String>,
    body: Vec<u8>,
    /// What to print when this request fails.
    label: String,
}

fn form(pairs: &[(String, String)]) -> Vec<u8> {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

fn excerpt(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    let mut e: String = s.chars().take(160).collect();
    if s.chars().count() > 160 {
        e.push_str(&format!("…[{} bytes]", b.len()));
    }
    format!("{e:?}")
}

const FORM: &str = "application/x-www-form-urlencoded";

impl Gen {
    /// A call of one server function, usually well-formed as a form with hostile values, else
    /// malformed in one of many ways.
    fn server_fn(&mut self, ep: &str, args: &[&str], cookie: Option<&str>) -> Fuzz {
        let mut f = Fuzz {
            method: Method::POST,
            uri: format!("/api/{ep}"),
            content_type: Some(FORM.into()),
            origin: Some("http://halite.test".into()),
            cookie: cookie.map(str::to_string),
            body: vec![],
            label: String::new(),
        };
        let mut pairs: Vec<(String, String)> = vec![];
        for a in args {
            if self.rng.gen_bool(0.88) {
                let v = self.value();
                pairs.push((a.to_string(), v));
            }
        }
        if self.rng.gen_bool(0.1) {
            let k = self.pick(&["extra", "__proto__", "id[]", "a[b]", "", "&", "ids[0]"]);
            let v = self.small();
            pairs.push((k.to_string(), v));
        }
        if !args.is_empty() && self.rng.gen_bool(0.08) {
            let a = args.choose(&mut self.rng).unwrap().to_string();
            let v = self.small();
            pairs.push((a, v)); // duplicate field
        }
        f.body = form(&pairs);
        let mode = self.rng.gen_range(0..100);
        let how = match mode {
            0..=71 => "form".to_string(),
            72..=75 => {
                // Raw, unencoded bytes and broken percent-encoding.
                let junk = self.pick(&[
                    "%",
                    "%zz",
                    "%FF%FE",
                    "a=%E0%80",
                    "=&&==",
                    "&",
                    "a=b=c",
                    "\u{0}=\u{0}",
                    "+++",
                    "%2",
                ]);
                let mut b = f.body.clone();
                b.extend_from_slice(b"&");
                b.extend_from_slice(junk.as_bytes());
                if self.rng.gen_bool(0.5) {
                    b.extend_from_slice(&[0xff, 0xfe, 0x00, 0xc3]);
                }
                f.body = b;
                "broken-encoding".into()
            }
            76..=80 => {
                let obj: serde_json::Map<String, serde_json::Value> = pairs
                    .iter()
                    .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                    .collect();
                f.body = serde_json::to_vec(&obj).unwrap();
                f.content_type = Some("application/json".into());
                "json-body".into()
            }
            81..=84 => {
                f.content_type = self
                    .pick(&[
                        "",
                        "text/plain",
                        "multipart/form-data; boundary=x",
                        "application/x-www-form-urlencoded; charset=utf-16",
                        "application/cbor",
                        "application/octet-stream",
                        "text/event-stream",
                        "*/*",
                        "application/x-www-form-urlencoded, application/json",
                    ])
                    .to_string()
                    .into();
                if self.rng.gen_bool(0.3) {
                    f.content_type = None;
                }
                "content-type".into()
            }
            85..=89 => {
                f.method = self
                    .pick(&["GET", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"])
                    .parse()
                    .unwrap();
                if f.method == Method::GET && f.body.len() < 8192 && self.rng.gen_bool(0.7) {
                    // GetUrl-style: arguments in the query string.
                    f.uri = format!("{}?{}", f.uri, String::from_utf8_lossy(&f.body));
                    f.body.clear();
                }
                "method".into()
            }
            90..=92 => {
                f.uri = self
                    .pick(&[
                        "/api/{}/",
                        "/api/{}?x=%00",
                        "/API/{}",
                        "/api//{}",
                        "/api/{}/extra",
                        "/api/{}%00",
                        "/api/{}%2f..",
                        "/api/./{}",
                    ])
                    .replace("{}", ep);
                "path".into()
            }
            93..=95 => {
                f.origin = Some(
                    self.pick(&["http://evil.test", "null", "http://halite.test.evil", ""])
                        .to_string(),
                );
                "cross-origin".into()
            }
            _ => {
                // Forged, garbage or huge session cookies.
                let v = self.small();
                f.cookie = Some(match self.rng.gen_range(0..4) {
                    0 => format!("halite_session={}", urlencode(&v)),
                    1 => format!("halite_session={}", "A".repeat(8192)),
                    2 => format!(
                        "halite_session=x.y; halite_session={}",
                        cookie.unwrap_or("").trim_start_matches("halite_session=")
                    ),
                    _ => "halite_session=.".into(),
                });
                "cookie".into()
            }
        };
        f.label = format!(
            "{} {} [{how}] content-type={:?} body={}",
            f.method,
            excerpt(f.uri.as_bytes()),
            f.content_type,
            excerpt(&f.body)
        );
        f
    }

    /// A plain route: health, the event stream, pages, static files, unknown paths.
    fn route(&mut self, cookie: Option<&str>) -> Fuzz {
        let seg = |g: &mut Gen| urlencode(&g.small());
        let uri = match self.rng.gen_range(0..100) {
            0..=9 => "/healthz".to_string(),
            10..=19 => "/readyz".to_string(),
            20..=24 => "/api/activity/stream".to_string(),
            25..=29 => {
                let path = self.pick(&[
                    "/api/fleet/export.csv",
                    "/api/audit/export.csv",
                    "/api/audit/export.json",
                    "/api/minions/export.ndjson",
                    "/api/keys/export.csv",
                    "/api/jobs/export.json",
                    "/api/jobs/results/export.csv",
                    "/api/activity/export.ndjson",
                    "/api/templates/export.csv",
                    "/api/users/export.json",
                    "/api/inventory/search.ndjson",
                    "/api/inventory/export.csv",
                    "/api/roles/export.json",
                ]);
                let k = self.pick(&[
                    "q", "status", "failing", "sort", "dir", "user", "since", "jid", "category",
                    "active", "name", "range", "system", "source",
                ]);
                format!("{path}?{k}={}", seg(self))
            }
            30..=59 => {
                let p = self.pick(PAGES).to_string();
                let mut p = if p.contains(":x") {
                    p.replace(":x", &seg(self))
                } else {
                    p
                };
                if self.rng.gen_bool(0.4) {
                    let k = self.pick(&["q", "page", "status", "window", "template", "id", "sort"]);
                    p = format!("{p}?{k}={}", seg(self));
                }
                p
            }
            60..=74 => self
                .pick(&[
                    "/pkg/halite.js",
                    "/pkg/halite.wasm",
                    "/pkg/halite.css",
                    "/favicon.svg",
                    "/favicon.ico",
                    "/robots.txt",
                    "/pkg/../Cargo.toml",
                    "/pkg/..%2f..%2fCargo.toml",
                    "/..%2fCargo.toml",
                    "/%2e%2e/%2e%2e/etc/passwd",
                    "/pkg/%00.js",
                    "/minions/x.js",
                    "/settings.txt",
                    "/api/x.js",
                    "/metrics",
                ])
                .to_string(),
            _ => {
                let base = self.pick(&["/", "/api/", "/api/auth/", "/pkg/", "/minions/", "/x/y/"]);
                format!("{base}{}", seg(self))
            }
        };
        let method: Method = if self.rng.gen_bool(0.8) {
            Method::GET
        } else {
            self.pick(&["POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"])
                .parse()
                .unwrap()
        };
        let body = if method == Method::GET {
            vec![]
        } else {
            self.small().into_bytes()
        };
        Fuzz {
            label: format!(
                "{method} {} body={}",
                excerpt(uri.as_bytes()),
                excerpt(&body)
            ),
            method,
            uri,
            content_type: None,
            origin: if self.rng.gen_bool(0.9) {
                Some("http://halite.test".into())
            } else {
                Some("http://evil.test".into())
            },
            cookie: cookie.map(str::to_string),
            body,
        }
    }
}

// ---- running --------------------------------------------------------------------------------

#[derive(Default)]
struct Tally {
    requests: usize,
    by_class: BTreeMap<String, usize>,
    salt_503: usize,
    stream_503: usize,
    failures: Vec<String>,
    elapsed: Duration,
    per_endpoint: BTreeMap<String, usize>,
}

const PER_REQUEST: Duration = Duration::from_secs(20);

async fn send(app: &TestApp, f: &Fuzz, ip: [u8; 4]) -> Result<(StatusCode, String, bool), String> {
    let mut b = Request::builder()
        .method(f.method.clone())
        .uri(f.uri.as_str())
        .header(header::HOST, "halite.test")
        .header(header::ACCEPT, "application/json");
    if let Some(ct) = &f.content_type {
        b = b.header(header::CONTENT_TYPE, ct.as_str());
    }
    if let Some(o) = &f.origin {
        b = b.header(header::ORIGIN, o.as_str());
    }
    if let Some(c) = &f.cookie {
        b = b.header(header::COOKIE, c.as_str());
    }
    let mut req = b
        .body(Body::from(f.body.clone()))
        .map_err(|e| format!("test bug: request does not build: {e}"))?;
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from((ip, 40000))));
    let fut = async {
        let res = app.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let is_stream = res
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if is_stream {
            return (status, String::new(), true); // an open stream never ends by itself
        }
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&bytes).to_string(), false)
    };
    match tokio::time::timeout(PER_REQUEST, AssertUnwindSafe(fut).catch_unwind()).await {
        Err(_) => Err(format!("no answer within {PER_REQUEST:?}")),
        Ok(Err(p)) => Err(format!(
            "PANIC: {}",
            p.downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default()
        )),
        Ok(Ok(r)) => Ok(r),
    }
}

async fn run(app: &TestApp, g: &mut Gen, who: Who, cookie: Option<&str>, n: usize) -> Tally {
    let mut t = Tally::default();
    let started = Instant::now();
    let mut budget: BTreeMap<&str, usize> = BUDGET.iter().copied().collect();
    let mut i = 0;
    while t.requests < n {
        i += 1;
        let (kind, f) = if g.rng.gen_bool(0.8) {
            let (ep, args) = *ENDPOINTS.choose(&mut g.rng).unwrap();
            // Signing out ends the identity's session: that is fuzzed last.
            if ep == "auth/logout" && cookie.is_some() {
                continue;
            }
            if let Some(left) = budget.get_mut(ep) {
                if *left == 0 {
                    continue;
                }
                *left -= 1;
            }
            (ep.to_string(), g.server_fn(ep, args, cookie))
        } else {
            ("route".to_string(), g.route(cookie))
        };
        let ip = [10, g.rng.gen_range(0..4), g.rng.gen(), g.rng.gen()];
        exec(app, &mut t, who, i, &kind, &f, ip).await;
    }
    if cookie.is_some() {
        for _ in 0..3 {
            let f = g.server_fn("auth/logout", &[], cookie);
            exec(app, &mut t, who, i, "auth/logout", &f, [10, 9, 9, 9]).await;
        }
    }
    t.elapsed = started.elapsed();
    t
}

async fn exec(app: &TestApp, t: &mut Tally, who: Who, i: usize, kind: &str, f: &Fuzz, ip: [u8; 4]) {
    t.requests += 1;
    *t.per_endpoint.entry(kind.to_string()).or_default() += 1;
    let fail = |t: &mut Tally, why: String| {
        t.failures.push(format!(
            "{who:?} #{i} {kind}: {why}\n    request: {}",
            f.label
        ))
    };
    let mut answer = send(app, f, ip).await;
    if f.method == Method::HEAD
        && matches!(&answer, Ok((s, b, _)) if s.as_u16() >= 500 && b.is_empty())
    {
        // A HEAD answer has no body to tell why: ask the same as GET.
        let get = Fuzz {
            method: Method::GET,
            uri: f.uri.clone(),
            content_type: f.content_type.clone(),
            origin: f.origin.clone(),
            cookie: f.cookie.clone(),
            body: vec![],
            label: String::new(),
        };
        if let Ok((s, b, st)) = send(app, &get, ip).await {
            if Ok(s) == answer.as_ref().map(|a| a.0) {
                answer = Ok((s, b, st));
            }
        }
    }
    match answer {
        Err(e) => {
            *t.by_class.entry("no answer".into()).or_default() += 1;
            fail(t, e);
        }
        Ok((status, body, _stream)) => {
            let class = format!("{}xx", status.as_u16() / 100);
            *t.by_class.entry(class).or_default() += 1;
            let s = status.as_u16();
            if s == 503 && (body.contains("Salt API") || body.contains("salt-api")) {
                t.salt_503 += 1;
            } else if s == 503 && body.contains("Event stream not enabled") {
                t.stream_503 += 1;
            } else if s >= 500 {
                fail(
                    t,
                    format!("{status}: {}", body.chars().take(300).collect::<String>()),
                );
            }
            // Nothing from outside the site root (path traversal).
            if body.contains("[package]") || body.contains("root:x:0:0") {
                fail(t, format!("{status}: served a file from outside the site"));
            }
        }
    }
}

// ---- data the caller may not change ---------------------------------------------------------

/// Every row of every table except the logs and heartbeats (audit_log, sessions, replicas); `caller` masks what that
/// user may change: their own theme and their own command templates.
async fn snapshot(app: &TestApp, caller: Option<&str>) -> BTreeMap<String, Vec<String>> {
    let db = &app.state.db;
    // The catalogue and the value-as-text function differ: SQLite's sqlite_master, pragma and
    // quote(); Postgres's information_schema and quote_nullable() of the column as text.
    let pg = db.engine() == halite::server::db::Engine::Postgres;
    let tables_sql = if pg {
        "SELECT CAST(table_name AS TEXT) FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
         AND table_name NOT IN ('audit_log', 'sessions', 'replicas') ORDER BY 1"
    } else {
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         AND name NOT IN ('audit_log', 'sessions', 'replicas') ORDER BY name"
    };
    let tables: Vec<(String,)> = halite::with_db!(db, p => sqlx::query_as(tables_sql)
    .fetch_all(p)
    .await
    .unwrap());
    let quote = |c: &str| {
        if pg {
            format!("quote_nullable(CAST(\"{c}\" AS TEXT))")
        } else {
            format!("quote(\"{c}\")")
        }
    };
    let caller_id: Option<String> = match caller {
        Some(u) => {
            halite::with_db!(db, p => sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
            .bind(u)
            .fetch_optional(p)
            .await
            .unwrap())
        }
        None => None,
    };
    let q = |s: &str| format!("'{}'", s.replace('\'', "''"));
    let mut out = BTreeMap::new();
    for (t,) in tables {
        let cols_sql = if pg {
            format!(
                "SELECT CAST(column_name AS TEXT) FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = {} ORDER BY ordinal_position",
                q(&t)
            )
        } else {
            format!("SELECT name FROM pragma_table_info({})", q(&t))
        };
        let cols: Vec<(String,)> = halite::with_db!(db, p => sqlx::query_as(&cols_sql)
                .fetch_all(p)
                .await
                .unwrap());
        let exprs: Vec<String> = cols
            .iter()
            .map(|(c,)| match (&caller_id, t.as_str(), c.as_str()) {
                (Some(id), "users", "theme") => {
                    format!(
                        "CASE WHEN id = {} THEN '<own>' ELSE {} END",
                        q(id),
                        quote("theme")
                    )
                }
                _ => quote(c),
            })
            .collect();
        let filter = match (&caller_id, t.as_str()) {
            (Some(id), "command_templates") => format!(" WHERE owner_user_id != {}", q(id)),
            _ => String::new(),
        };
        let sql = format!("SELECT {} FROM \"{t}\"{filter}", exprs.join(" || '|' || "));
        let mut rows: Vec<String> = halite::with_db!(db, p => sqlx::query_scalar(&sql)
            .fetch_all(p)
            .await
            .unwrap());
        rows.sort();
        out.insert(t, rows);
    }
    out
}

fn assert_unchanged(
    who: Who,
    before: &BTreeMap<String, Vec<String>>,
    after: &BTreeMap<String, Vec<String>>,
) {
    for (t, rows) in before {
        let now = &after[t];
        if rows != now {
            let gone: Vec<_> = rows.iter().filter(|r| !now.contains(r)).take(5).collect();
            let new: Vec<_> = now.iter().filter(|r| !rows.contains(r)).take(5).collect();
            panic!("{who:?} changed table {t}: rows gone {gone:?}, rows new {new:?}");
        }
    }
    assert_eq!(
        before.len(),
        after.len(),
        "{who:?}: tables appeared/vanished"
    );
}

// ---- the test -------------------------------------------------------------------------------

fn print(who: Who, t: &Tally) {
    eprintln!(
        "  {who:?}: {} requests in {:.1?} ({:.0}/s); by class {:?}; 503 Salt not configured: {}; \
         503 event stream off: {}; failures: {}",
        t.requests,
        t.elapsed,
        t.requests as f64 / t.elapsed.as_secs_f64(),
        t.by_class,
        t.salt_503,
        t.stream_503,
        t.failures.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuzz_every_endpoint_and_route() {
    let seed: u64 = std::env::var("HALITE_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::thread_rng().gen());
    let per_identity: usize = std::env::var("HALITE_FUZZ_PER_IDENTITY")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3400);
    eprintln!(
        "fuzz seed {seed} (replay: HALITE_FUZZ_SEED={seed}), {per_identity} requests per identity"
    );
    let total_started = Instant::now();

    let app = TestApp::new().await;
    app.create_user(ADMIN.0, ADMIN.1, &["admin"]).await;
    app.create_user(VIEWER.0, VIEWER.1, &["viewer"]).await;
    let admin = app.login(ADMIN.0, ADMIN.1).await;
    let viewer = app.login(VIEWER.0, VIEWER.1).await;

    // Rows the fuzzer can aim at: the admin's shared and private templates, a viewer's own.
    let mut known: Vec<String> = vec![
        ADMIN.0.into(),
        VIEWER.0.into(),
        "admin".into(),
        "web-01".into(),
        "20250101000000000000".into(),
        "test.ping".into(),
    ];
    for (cookie, name, shared) in [
        (&admin, "admin shared", "on"),
        (&admin, "admin private", ""),
        (&viewer, "viewer own", ""),
    ] {
        let r = app
            .call(
                "templates/create",
                &[
                    ("name", name),
                    ("target", "web-*"),
                    ("fun", "test.ping"),
                    ("is_shared", shared),
                ],
                Some(cookie),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "seed template: {}", r.body);
        known.push(r.json()["id"].as_str().unwrap().to_string());
    }
    let mut g = Gen {
        rng: StdRng::seed_from_u64(seed),
        known,
    };

    let mut tallies: Vec<(Who, Tally)> = vec![];
    // Anonymous: nothing at all may change.
    let before = snapshot(&app, None).await;
    let t = run(&app, &mut g, Who::Anonymous, None, per_identity).await;
    print(Who::Anonymous, &t);
    assert_unchanged(Who::Anonymous, &before, &snapshot(&app, None).await);
    tallies.push((Who::Anonymous, t));

    // Viewer: may change only their own theme and their own templates.
    let before = snapshot(&app, Some(VIEWER.0)).await;
    let t = run(&app, &mut g, Who::Viewer, Some(&viewer), per_identity).await;
    print(Who::Viewer, &t);
    assert_unchanged(Who::Viewer, &before, &snapshot(&app, Some(VIEWER.0)).await);
    tallies.push((Who::Viewer, t));

    // Admin: may change anything; afterwards the account still works and the app answers.
    let t = run(&app, &mut g, Who::Admin, Some(&admin), per_identity).await;
    print(Who::Admin, &t);
    tallies.push((Who::Admin, t));
    let again = app.login(ADMIN.0, ADMIN.1).await;
    let me = app.call("auth/me", &[], Some(&again)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(me.json()["username"], ADMIN.0);
    let s = app.call("settings/get", &[], Some(&again)).await;
    assert_eq!(
        s.status,
        StatusCode::OK,
        "admin can still read settings: {}",
        s.body
    );
    assert_eq!(app.get("/healthz", None).await.status, StatusCode::OK);

    // Totals.
    let requests: usize = tallies.iter().map(|(_, t)| t.requests).sum();
    let mut by_class: BTreeMap<String, usize> = BTreeMap::new();
    let mut endpoints: BTreeMap<String, usize> = BTreeMap::new();
    for (_, t) in &tallies {
        for (k, v) in &t.by_class {
            *by_class.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &t.per_endpoint {
            *endpoints.entry(k.clone()).or_default() += v;
        }
    }
    let salt: usize = tallies.iter().map(|(_, t)| t.salt_503).sum();
    let stream: usize = tallies.iter().map(|(_, t)| t.stream_503).sum();
    let failures: Vec<&String> = tallies.iter().flat_map(|(_, t)| &t.failures).collect();
    eprintln!(
        "fuzz seed {seed}: {requests} requests in {:.1?}; by class {by_class:?}; \
         503 Salt not configured: {salt}; 503 event stream off: {stream}; failures: {}",
        total_started.elapsed(),
        failures.len()
    );
    for (ep, _) in ENDPOINTS {
        assert!(
            endpoints.get(*ep).copied().unwrap_or(0) >= 3,
            "{ep} was hardly fuzzed: {endpoints:?}"
        );
    }
    assert!(
        requests >= 10_000 || per_identity < 3400,
        "{requests} requests"
    );
    for f in failures.iter().take(40) {
        eprintln!("FAIL {f}");
    }
    assert!(
        failures.is_empty(),
        "{} fuzz failures (seed {seed}); first: {}",
        failures.len(),
        failures[0]
    );
}
