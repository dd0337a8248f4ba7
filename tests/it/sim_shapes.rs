//! The salt-api simulator (the `salt-sim` crate) against replies recorded from a real Salt 3008.4
//! master: every supported call must answer with the same shape as the fixture, and parse with
//! Halite's own reply parsers.

use halite::salt::*;
use salt_sim::{router, SimConfig};
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Instant;

// ---- harness -----------------------------------------------------------------------------

struct Sim {
    base: String,
    http: reqwest::Client,
    token: String,
}

async fn start(cfg: SimConfig) -> Sim {
    let (user, pw) = (cfg.username.clone(), cfg.password.clone());
    let app = tokio::task::spawn_blocking(move || router(cfg))
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    let base = format!("http://{addr}");
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{base}/login"))
        .json(&json!({"username": user, "password": pw, "eauth": "file"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let token = parse_login(&r.text().await.unwrap()).unwrap().token;
    Sim { base, http, token }
}

fn small() -> SimConfig {
    SimConfig {
        minions: 60,
        pending: 3,
        rejected: 2,
        offline_fraction: 0.1,
        seed: 7,
        ..SimConfig::default()
    }
}

impl Sim {
    /// POST one lowstate; the whole body.
    async fn post_raw(&self, low: Value) -> (u16, String) {
        let r = self
            .http
            .post(format!("{}/", self.base))
            .header("Accept", "application/json")
            .header("X-Auth-Token", &self.token)
            .json(&json!([low]))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// POST one lowstate; the parsed body (must be 200).
    async fn call(&self, low: Value) -> Value {
        let (status, body) = self.post_raw(low.clone()).await;
        assert_eq!(status, 200, "{low}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    async fn wheel(&self, fun: &str, extra: Value) -> Value {
        let mut low = json!({"client": "wheel", "fun": fun});
        merge(&mut low, extra);
        self.call(low).await
    }

    async fn runner(&self, fun: &str, extra: Value) -> Value {
        let mut low = json!({"client": "runner", "fun": fun});
        merge(&mut low, extra);
        self.call(low).await
    }
}

fn merge(low: &mut Value, extra: Value) {
    if let (Some(l), Value::Object(e)) = (low.as_object_mut(), extra) {
        l.extend(e);
    }
}

fn fixture_text(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/salt/3008.4")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn fixture(name: &str) -> Value {
    serde_json::from_str(&fixture_text(name)).unwrap()
}

/// `return[0]` of a reply.
fn ret0(v: &Value) -> &Value {
    &v["return"][0]
}

// ---- shapes ------------------------------------------------------------------------------

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Objects -> their keys with the shapes of the values; arrays -> the shape of the first
/// element (`[]` when empty); scalars -> the type name.
fn shape(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
        Value::Array(a) => Value::Array(a.first().map(shape).into_iter().collect()),
        other => Value::from(kind(other)),
    }
}

/// Same shape: identical key sets at every level, same scalar types; an empty array matches
/// any array (it says nothing about its elements).
fn assert_same_shape(sim: &Value, real: &Value, path: &str) {
    match (sim, real) {
        (Value::Object(a), Value::Object(b)) => {
            let ka: BTreeSet<&String> = a.keys().collect();
            let kb: BTreeSet<&String> = b.keys().collect();
            assert_eq!(ka, kb, "keys differ at {path}");
            for k in ka {
                assert_same_shape(&a[k], &b[k], &format!("{path}.{k}"));
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            if let (Some(x), Some(y)) = (a.first(), b.first()) {
                assert_same_shape(x, y, &format!("{path}[0]"));
            }
        }
        (a, b) => assert_eq!(kind(a), kind(b), "type differs at {path}"),
    }
}

/// One value of a map keyed by minion id (or jid).
fn one_entry(v: &Value) -> &Value {
    v.as_object()
        .and_then(|m| m.values().next())
        .unwrap_or_else(|| panic!("expected a non-empty object, got {v}"))
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// The wheel wrapper (`{"tag", "data": {...}}`) minus `data.return`.
fn wheel_wrapper(v: &Value) -> Value {
    let mut w = ret0(v).clone();
    if let Some(d) = w.get_mut("data").and_then(Value::as_object_mut) {
        d.remove("return");
    }
    w
}

fn wheel_return(v: &Value) -> &Value {
    &ret0(v)["data"]["return"]
}

fn is_start_time(s: &str) -> bool {
    // "2026, Nov 27 06:21:11.716004"
    let b = s.as_bytes();
    s.len() == 28
        && b[..4].iter().all(u8::is_ascii_digit)
        && &s[4..6] == ", "
        && b[6].is_ascii_uppercase()
        && b[7..9].iter().all(u8::is_ascii_lowercase)
        && b[9] == b' '
        && b[10..12].iter().all(u8::is_ascii_digit)
        && b[12] == b' '
        && b[15] == b':'
        && b[18] == b':'
        && b[21] == b'.'
        && b[22..].iter().all(u8::is_ascii_digit)
}

fn is_jid(s: &str) -> bool {
    s.len() == 20 && s.bytes().all(|b| b.is_ascii_digit())
}

// ---- tests -------------------------------------------------------------------------------

#[tokio::test]
async fn login_shape_and_failures() {
    let sim = start(small()).await;
    let cfg = small();

    let r = sim
        .http
        .post(format!("{}/login", sim.base))
        .json(&json!({"username": cfg.username, "password": cfg.password, "eauth": "file"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(shape(&v), shape(&fixture("login.json")));
    assert_same_shape(&v, &fixture("login.json"), "login");
    let l = parse_login(&body).unwrap();
    assert_eq!((l.user.as_str(), l.eauth.as_str()), ("halite", "file"));
    assert!((l.expire - l.start - 43200.0).abs() < 1.0, "12 h tokens");
    assert_eq!(ret0(&v)["perms"], ret0(&fixture("login.json"))["perms"]);

    // Form-encoded credentials work too.
    let r = sim
        .http
        .post(format!("{}/login", sim.base))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!(
            "username={}&password={}&eauth=pam",
            cfg.username, cfg.password
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(parse_login(&r.text().await.unwrap()).unwrap().eauth, "pam");

    // A wrong password: 401 with the very page a real salt-api sends.
    let r = sim
        .http
        .post(format!("{}/login", sim.base))
        .json(&json!({"username": cfg.username, "password": "nope", "eauth": "file"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let body = r.text().await.unwrap();
    let real = fixture_text("error_401.txt");
    let (status_line, real_body) = real.split_once("\n\n").unwrap();
    assert_eq!(status_line, "HTTP/1.1 401 Unauthorized");
    assert_eq!(body, real_body);
    assert_eq!(
        error_message(&body),
        "Could not authenticate using provided credentials"
    );

    // Malformed login bodies are a 4xx, never a crash.
    for (ct, b) in [
        ("application/json", "{not json"),
        ("application/json", "42"),
        ("application/json", "[]"),
        ("application/json", "{\"username\": 1}"),
        ("application/x-www-form-urlencoded", "%%%&=&username"),
    ] {
        let r = sim
            .http
            .post(format!("{}/login", sim.base))
            .header("Content-Type", ct)
            .body(b)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_client_error(), "{b}: {}", r.status());
    }
}

#[tokio::test]
async fn lowstate_needs_a_token() {
    let sim = start(small()).await;
    let low = json!([{"client": "runner", "fun": "manage.present"}]);
    for token in [None, Some("deadbeef"), Some("not hex at all")] {
        let mut req = sim.http.post(format!("{}/", sim.base)).json(&low);
        if let Some(t) = token {
            req = req.header("X-Auth-Token", t);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 401, "{token:?}");
        let body = r.text().await.unwrap();
        assert!(body.contains("<title>401 Unauthorized</title>"), "{body}");
        assert_eq!(
            error_message(&body),
            "No permission -- see authorization schemes"
        );
    }

    // Logout invalidates the token.
    let r = sim
        .http
        .post(format!("{}/logout", sim.base))
        .header("X-Auth-Token", &sim.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = sim
        .http
        .post(format!("{}/", sim.base))
        .header("X-Auth-Token", &sim.token)
        .json(&low)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn welcome_and_bad_requests() {
    let sim = start(small()).await;
    let v: Value = sim
        .http
        .get(format!("{}/", sim.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["return"], "Welcome");
    assert!(v["clients"]
        .as_array()
        .unwrap()
        .contains(&json!("local_async")));

    let raw = |body: &'static str| {
        sim.http
            .post(format!("{}/", sim.base))
            .header("X-Auth-Token", &sim.token)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
    };
    for body in [
        "{oops",
        "\"a string\"",
        "[1, 2]",
        "[{\"fun\": \"test.ping\"}]",
        "[{\"client\": \"nope\", \"fun\": \"test.ping\"}]",
        "[{\"client\": \"local\", \"fun\": \"test.ping\"}]",
        "[{\"client\": \"local\", \"tgt\": \"*\"}]",
        "[{\"client\": \"local\", \"tgt\": 5, \"fun\": \"test.ping\"}]",
        "[{\"client\": \"local\", \"tgt\": \"x\", \"tgt_type\": \"pcre\", \"fun\": \"test.ping\"}]",
        "[{\"client\": \"local\", \"tgt\": \"os\", \"tgt_type\": \"grain\", \"fun\": \"test.ping\"}]",
        "[{\"client\": \"local_batch\", \"tgt\": \"*\", \"fun\": \"test.ping\"}]",
    ] {
        let r = raw(body).await.unwrap();
        assert_eq!(r.status(), 400, "{body}");
        let text = r.text().await.unwrap();
        assert!(text.contains("<p>"), "{body}: {text}");
    }
    // A disabled client reads like the recorded page.
    let r = raw("[{\"client\": \"wheel_async\", \"fun\": \"key.list_all\"}]")
        .await
        .unwrap();
    let msg = error_message(&r.text().await.unwrap());
    let real = error_message(&fixture_text("error_disabled_client.html"));
    assert_eq!(
        msg.replace("wheel_async", "wheel"),
        real,
        "same wording as a real master"
    );

    // Not a known path.
    let r = sim
        .http
        .get(format!("{}/nope", sim.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn wheel_keys_match_the_fixtures() {
    let sim = start(small()).await;

    let v = sim.wheel("key.list_all", json!({})).await;
    let real = fixture("key_list_all.json");
    assert_same_shape(&wheel_wrapper(&v), &wheel_wrapper(&real), "key.list_all");
    assert_eq!(keys(wheel_return(&v)), keys(wheel_return(&real)));
    assert_same_shape(wheel_return(&v), wheel_return(&real), "key.list_all.return");
    assert_eq!(ret0(&v)["data"]["fun"], "wheel.key.list_all");
    assert!(ret0(&v)["tag"].as_str().unwrap().starts_with("salt/wheel/"));
    assert!(is_jid(ret0(&v)["data"]["jid"].as_str().unwrap()));
    let lists = parse_key_lists(unwrap_wheel("key.list_all", ret0(&v).clone()).unwrap()).unwrap();
    assert_eq!(
        (
            lists.accepted.len(),
            lists.pending.len(),
            lists.rejected.len()
        ),
        (55, 3, 2)
    );
    let pending = lists.pending[0].clone();

    // key.finger on a pending key.
    let v = sim.wheel("key.finger", json!({"match": pending})).await;
    let real = fixture("key_finger.json");
    assert_same_shape(&wheel_wrapper(&v), &wheel_wrapper(&real), "key.finger");
    assert_eq!(keys(wheel_return(&v)), keys(wheel_return(&real)));
    let fp = one_entry(&wheel_return(&v)["minions_pre"])
        .as_str()
        .unwrap();
    let real_fp = one_entry(&wheel_return(&real)["minions_pre"])
        .as_str()
        .unwrap();
    assert_eq!(fp.len(), real_fp.len());
    assert_eq!(fp.matches(':').count(), real_fp.matches(':').count());
    let parsed = parse_key_finger(unwrap_wheel("key.finger", ret0(&v).clone()).unwrap()).unwrap();
    assert_eq!(parsed.len(), 1);
    assert_eq!(
        (parsed[0].state.as_str(), parsed[0].id.as_str()),
        ("pending", pending.as_str())
    );

    // key.accept moves it from pending to accepted; the reply is like the fixture.
    let v = sim
        .wheel(
            "key.accept",
            json!({"match": pending, "include_rejected": true, "include_denied": true}),
        )
        .await;
    let real = fixture("key_accept.json");
    assert_same_shape(&wheel_wrapper(&v), &wheel_wrapper(&real), "key.accept");
    assert_same_shape(wheel_return(&v), wheel_return(&real), "key.accept.return");
    assert_eq!(*wheel_return(&v), json!({"minions": [pending]}));
    assert_eq!(
        changed_key_ids(&unwrap_wheel("key.accept", ret0(&v).clone()).unwrap()),
        vec![pending.clone()]
    );
    let after = parse_key_lists(
        unwrap_wheel(
            "key.list_all",
            ret0(&sim.wheel("key.list_all", json!({})).await).clone(),
        )
        .unwrap(),
    )
    .unwrap();
    assert!(after.accepted.contains(&pending));
    assert!(!after.pending.contains(&pending));
    assert_eq!(after.accepted.len(), 56);
    // Its grains are now in the cache and it answers.
    let g = sim
        .runner("cache.grains", json!({"tgt": pending.clone()}))
        .await;
    assert_eq!(keys(ret0(&g)), BTreeSet::from([pending.clone()]));

    // reject (from accepted only with include_accepted), then delete.
    let v = sim.wheel("key.reject", json!({"match": pending})).await;
    assert_eq!(
        *wheel_return(&v),
        json!({"minions": [pending]}),
        "not pending any more"
    );
    let v = sim
        .wheel(
            "key.reject",
            json!({"match": pending, "include_accepted": true}),
        )
        .await;
    assert_eq!(*wheel_return(&v), json!({"minions_rejected": [pending]}));
    let v = sim.wheel("key.delete", json!({"match": pending})).await;
    assert_eq!(*wheel_return(&v), json!({}));
    let after = parse_key_lists(
        unwrap_wheel(
            "key.list_all",
            ret0(&sim.wheel("key.list_all", json!({})).await).clone(),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        after.accepted.len() + after.pending.len() + after.rejected.len(),
        59
    );

    // Globs: accept every remaining pending key at once.
    let v = sim.wheel("key.accept", json!({"match": "*"})).await;
    assert!(wheel_return(&v)["minions"].as_array().unwrap().len() >= 57);

    // Errors come back wrapped with success=false.
    let v = sim.wheel("key.bogus", json!({})).await;
    assert_same_shape(&wheel_wrapper(&v), &wheel_wrapper(&real), "wheel error");
    assert_eq!(ret0(&v)["data"]["success"], false);
    assert!(unwrap_wheel("key.bogus", ret0(&v).clone()).is_err());
    let v = sim.wheel("key.accept", json!({})).await;
    assert_eq!(ret0(&v)["data"]["success"], false, "missing match");
}

#[tokio::test]
async fn runner_replies_match_the_fixtures() {
    let sim = start(small()).await;
    let lists = parse_key_lists(
        unwrap_wheel(
            "key.list_all",
            ret0(&sim.wheel("key.list_all", json!({})).await).clone(),
        )
        .unwrap(),
    )
    .unwrap();

    // manage.present
    let v = sim.runner("manage.present", json!({})).await;
    assert_eq!(shape(&v), shape(&fixture("manage_present.json")));
    let present = parse_string_list("manage.present", ret0(&v).clone()).unwrap();
    assert!(
        !present.is_empty() && present.len() < lists.accepted.len(),
        "some offline"
    );
    assert!(present.iter().all(|id| lists.accepted.contains(id)));

    let v = sim.runner("manage.present", json!({"show_ip": true})).await;
    let real = fixture("manage_present_show_ip.json");
    assert_same_shape(one_entry(ret0(&v)), one_entry(ret0(&real)), "show_ip entry");
    let ips = parse_present_ips(ret0(&v).clone()).unwrap();
    assert_eq!(ips.keys().cloned().collect::<Vec<_>>(), present);
    assert!(ips
        .values()
        .all(|ip| ip.parse::<std::net::Ipv4Addr>().is_ok()));

    // cache.grains
    let v = sim.runner("cache.grains", json!({"tgt": "*"})).await;
    let real = fixture("cache_grains.json");
    let grains = ret0(&v).as_object().unwrap();
    assert_eq!(
        grains.keys().cloned().collect::<Vec<_>>(),
        lists.accepted,
        "accepted minions only, online or not"
    );
    let real_grains = one_entry(ret0(&real)).as_object().unwrap();
    assert_eq!(shape(&v["return"]).as_array().map(Vec::len), Some(1));
    for (id, g) in grains {
        let g = g.as_object().unwrap();
        assert_eq!(g["id"], json!(id));
        for k in [
            "os",
            "os_family",
            "osrelease",
            "kernel",
            "num_cpus",
            "mem_total",
            "saltversion",
            "virtual",
            "ipv4",
            "osfinger",
            "kernelrelease",
            "fqdn",
            "host",
            "cpu_model",
            "cpuarch",
            "roles",
            "cpu_flags",
        ] {
            assert!(g.contains_key(k), "{id} lacks {k}");
        }
        for (k, val) in g {
            if let Some(r) = real_grains.get(k) {
                // The lab's pip install reports `package: null`; null carries no type.
                if !r.is_null() {
                    assert_eq!(kind(val), kind(r), "grain {k} of {id}");
                }
            }
        }
    }
    let shared = grains
        .values()
        .next()
        .unwrap()
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| real_grains.contains_key(*k))
        .count();
    assert!(
        shared >= 60,
        "most real grain keys are simulated ({shared})"
    );
    assert!(expect_object("cache.grains", ret0(&v).clone()).is_ok());

    // A list target and a single id; pending minions have no cached grains.
    let two = &lists.accepted[..2];
    let v = sim
        .runner(
            "cache.grains",
            json!({"tgt": [two[0], two[1], lists.pending[0]], "tgt_type": "list"}),
        )
        .await;
    assert_eq!(keys(ret0(&v)), two.iter().cloned().collect());
    let v = sim
        .runner("cache.grains", json!({"tgt": lists.pending[0]}))
        .await;
    assert_eq!(*ret0(&v), json!({}));

    // jobs.list_jobs
    let v = sim.runner("jobs.list_jobs", json!({})).await;
    let real = fixture("list_jobs.json");
    let entry = one_entry(ret0(&v));
    let real_entry = one_entry(ret0(&real));
    assert_eq!(keys(entry), keys(real_entry));
    let jobs = ret0(&v).as_object().unwrap();
    assert!(
        jobs.len() >= 150,
        "a synthetic day of jobs ({})",
        jobs.len()
    );
    for (jid, j) in jobs {
        assert!(is_jid(jid), "{jid}");
        assert_eq!(keys(j), keys(real_entry));
        for k in ["Function", "Target-type", "User", "StartTime"] {
            assert!(j[k].is_string(), "{jid}.{k}");
        }
        assert!(j["Arguments"].is_array());
        assert!(j["Target"].is_string() || j["Target"].is_array());
        assert!(is_start_time(j["StartTime"].as_str().unwrap()), "{j}");
    }
    for (jid, j) in ret0(&real).as_object().unwrap() {
        assert!(is_jid(jid));
        assert!(
            is_start_time(j["StartTime"].as_str().unwrap()),
            "fixture {j}"
        );
    }
    let funs: BTreeSet<&str> = jobs
        .values()
        .filter_map(|j| j["Function"].as_str())
        .collect();
    for f in [
        "test.ping",
        "saltutil.find_job",
        "runner.manage.present",
        "wheel.key.list_all",
    ] {
        assert!(funs.contains(f), "{f} in the history");
    }
    let parsed = parse_list_jobs(ret0(&v).clone()).unwrap();
    assert_eq!(parsed.len(), jobs.len());
    assert!(parsed
        .iter()
        .all(|j| j.start_time.is_some() && !j.function.is_empty()));
    // Halite's own calls show up, like on a real master.
    let v = sim.runner("jobs.list_jobs", json!({})).await;
    let funs: Vec<&str> = ret0(&v)
        .as_object()
        .unwrap()
        .values()
        .filter_map(|j| j["Function"].as_str())
        .collect();
    assert!(funs.contains(&"runner.jobs.list_jobs"));
    assert!(funs.contains(&"runner.cache.grains"));

    // Filters.
    let v = sim
        .runner(
            "jobs.list_jobs",
            json!({"search_function": "test.*", "start_time": "2000-01-01 00:00:00"}),
        )
        .await;
    let only = ret0(&v).as_object().unwrap();
    assert!(!only.is_empty());
    assert!(only
        .values()
        .all(|j| j["Function"].as_str().unwrap().starts_with("test.")));
    let v = sim
        .runner(
            "jobs.list_jobs",
            json!({"start_time": "2999-01-01 00:00:00"}),
        )
        .await;
    assert_eq!(*ret0(&v), json!({}));
    let v = sim
        .runner("jobs.list_jobs", json!({"start_time": "yesterday-ish"}))
        .await;
    assert!(ret0(&v).is_string(), "a bad time is a runner error string");
    assert!(parse_list_jobs(ret0(&v).clone()).is_err());

    // jobs.active
    let v = sim.runner("jobs.active", json!({})).await;
    assert!(ret0(&v).is_object());
    assert!(ret0(&fixture("jobs_active.json")).is_object());
    assert!(parse_jobs_active(ret0(&v).clone()).unwrap().is_empty());

    // Runner errors are a 200 with a string, exactly like the recorded one.
    let v = sim.runner("jobs.list_job", json!({})).await;
    assert_eq!(v, fixture("runner_error.json"));
    let v = sim.runner("nope.nothing", json!({})).await;
    assert!(ret0(&v)
        .as_str()
        .unwrap()
        .contains("'nope.nothing' is not available."));
    assert!(parse_string_list("nope.nothing", ret0(&v).clone()).is_err());
}

#[tokio::test]
async fn local_replies_match_the_fixtures() {
    let sim = start(small()).await;
    let lists = parse_key_lists(
        unwrap_wheel(
            "key.list_all",
            ret0(&sim.wheel("key.list_all", json!({})).await).clone(),
        )
        .unwrap(),
    )
    .unwrap();
    let present = parse_string_list(
        "manage.present",
        ret0(&sim.runner("manage.present", json!({})).await).clone(),
    )
    .unwrap();
    let online = present[0].clone();
    let offline = lists
        .accepted
        .iter()
        .find(|id| !present.contains(id))
        .unwrap()
        .clone();

    // test.ping on '*': every accepted minion; online ones answer true.
    let v = sim
        .call(json!({"client": "local", "tgt": "*", "fun": "test.ping"}))
        .await;
    let real = fixture("local_test_ping.json");
    let r = ret0(&v).as_object().unwrap();
    assert_eq!(r.keys().cloned().collect::<Vec<_>>(), lists.accepted);
    assert_same_shape(&r[&online], one_entry(ret0(&real)), "test.ping entry");
    for id in &present {
        assert_eq!(r[id], json!(true));
    }
    assert!(r[&offline]
        .as_str()
        .unwrap()
        .starts_with("Minion did not return"));
    let parsed = parse_local_returns(ret0(&v).clone()).unwrap();
    assert!(matches!(parsed[&online], MinionReturn::Returned { .. }));
    assert!(matches!(parsed[&offline], MinionReturn::NoResponse { .. }));

    // A list target naming a pending minion: the recorded "[No response]" string.
    let v = sim
        .call(json!({"client": "local", "tgt": [online, lists.pending[0]], "tgt_type": "list", "fun": "test.ping"}))
        .await;
    let real = fixture("local_list_pending.json");
    assert_same_shape(
        ret0(&v),
        &{
            // re-key the fixture by our ids
            let m = ret0(&real).as_object().unwrap();
            let mut o = Map::new();
            o.insert(online.clone(), m["web-01"].clone());
            o.insert(lists.pending[0].clone(), m["new-01"].clone());
            Value::Object(o)
        },
        "list target",
    );
    let text = ret0(&v)[&lists.pending[0]].as_str().unwrap();
    let real_text = ret0(&real)["new-01"].as_str().unwrap();
    assert_eq!(
        text.rsplit_once(' ').unwrap().0,
        real_text.rsplit_once(' ').unwrap().0,
        "same text up to the jid"
    );

    // full_return, with the recorded call (grains.get os_family on a glob).
    let v = sim
        .call(json!({"client": "local", "tgt": online, "fun": "grains.get", "arg": ["os_family"], "full_return": true}))
        .await;
    let real = fixture("local_full_return.json");
    assert_same_shape(
        one_entry(ret0(&v)),
        one_entry(ret0(&real)),
        "full_return entry",
    );
    let v = sim
        .call(json!({"client": "local", "tgt": "*", "fun": "test.ping", "full_return": true}))
        .await;
    let e = &ret0(&v)[&online];
    assert_eq!(keys(e), keys(one_entry(ret0(&real))));
    assert_eq!(e["ret"], json!(true));
    assert_eq!(e["retcode"], json!(0));
    assert!(is_jid(e["jid"].as_str().unwrap()));
    let parsed = parse_local_returns(ret0(&v).clone()).unwrap();
    assert_eq!(
        parsed[&online],
        MinionReturn::Returned {
            ret: json!(true),
            retcode: Some(0)
        }
    );
    assert!(matches!(parsed[&offline], MinionReturn::NoResponse { .. }));

    // No match.
    let v = sim
        .call(json!({"client": "local", "tgt": "nomatch-*", "fun": "test.ping"}))
        .await;
    assert_eq!(v, fixture("local_no_match.json"));

    // A grain target.
    let os_family = ret0(
        &sim.call(
            json!({"client": "local", "tgt": online, "fun": "grains.get", "arg": ["os_family"]}),
        )
        .await,
    )[&online]
        .as_str()
        .unwrap()
        .to_string();
    let v = sim
        .call(json!({"client": "local", "tgt": format!("os_family:{os_family}"), "tgt_type": "grain", "fun": "test.ping"}))
        .await;
    assert!(ret0(&v).as_object().unwrap().contains_key(&online));

    // local_async and jobs.list_job, like the recorded pair.
    let v = sim
        .call(json!({"client": "local_async", "tgt": "*", "fun": "test.ping"}))
        .await;
    assert_eq!(shape(&v), shape(&fixture("local_async.json")));
    let job = parse_async_job(ret0(&v).clone()).unwrap().unwrap();
    assert_eq!(job.minions, lists.accepted);
    let v = sim
        .runner("jobs.list_job", json!({"jid": job.jid.clone()}))
        .await;
    let real = fixture("list_job_ping.json");
    assert_eq!(keys(ret0(&v)), keys(ret0(&real)));
    assert_same_shape(
        one_entry(&ret0(&v)["Result"]),
        one_entry(&ret0(&real)["Result"]),
        "list_job Result entry",
    );
    let detail = parse_list_job(ret0(&v).clone()).unwrap();
    assert_eq!(detail.summary.jid, job.jid);
    assert_eq!(detail.minions, lists.accepted);
    assert!(detail.results.contains_key(&online));
    assert!(!detail.results.contains_key(&offline), "never answered");
}

/// A `pkg.list_pkgs` return as the recordings have it: a non-empty object of package name ->
/// version string (several versions comma-joined), or with `versions_as_list` -> a non-empty
/// list of version strings. Every version starts with a digit (an epoch, or the upstream
/// version) and has no spaces. The names, sorted.
fn check_pkg_list(ret: &Value, as_list: bool, ctx: &str) -> Vec<String> {
    let pkgs = ret
        .as_object()
        .unwrap_or_else(|| panic!("{ctx}: not an object: {ret}"));
    assert!(!pkgs.is_empty(), "{ctx}: no packages");
    let version_ok = |v: &Value| {
        v.as_str().is_some_and(|s| {
            s.starts_with(|c: char| c.is_ascii_digit()) && !s.contains(char::is_whitespace)
        })
    };
    for (name, v) in pkgs {
        assert!(
            !name.is_empty() && !name.contains(char::is_whitespace),
            "{ctx}: name {name:?}"
        );
        if as_list {
            let versions = v
                .as_array()
                .unwrap_or_else(|| panic!("{ctx}: {name}: not a list: {v}"));
            assert!(!versions.is_empty(), "{ctx}: {name}: no versions");
            assert!(versions.iter().all(version_ok), "{ctx}: {name}: {v}");
        } else {
            assert!(version_ok(v), "{ctx}: {name}: {v}");
        }
    }
    pkgs.keys().cloned().collect()
}

/// `[epoch:]upstream[-revision]` -> the numeric fields of upstream (`1:3.0.7-25.el9_3` ->
/// `[3, 0, 7]`).
fn upstream(v: &str) -> Vec<u64> {
    let v = v.split_once(':').map_or(v, |x| x.1);
    let up = v.split('-').next().unwrap_or(v);
    up.split('.').map_while(|x| x.parse().ok()).collect()
}

#[tokio::test]
async fn pkg_list_pkgs_matches_the_fixtures() {
    let real = fixture("pkg_list_pkgs.json");
    let real_list = fixture("pkg_list_pkgs_as_list.json");
    let real_names = check_pkg_list(one_entry(ret0(&real)), false, "fixture");
    let real_list_names = check_pkg_list(one_entry(ret0(&real_list)), true, "list fixture");
    for n in [
        "bash", "curl", "openssl", "libc6", "libssl3", "systemd", "python3",
    ] {
        assert!(real_names.iter().any(|r| r == n), "fixture has {n}");
        assert!(
            real_list_names.iter().any(|r| r == n),
            "list fixture has {n}"
        );
    }

    let sim = start(small()).await;
    let lists = parse_key_lists(
        unwrap_wheel(
            "key.list_all",
            ret0(&sim.wheel("key.list_all", json!({})).await).clone(),
        )
        .unwrap(),
    )
    .unwrap();
    let present = parse_string_list(
        "manage.present",
        ret0(&sim.runner("manage.present", json!({})).await).clone(),
    )
    .unwrap();
    let offline: Vec<&String> = lists
        .accepted
        .iter()
        .filter(|id| !present.contains(id))
        .collect();
    assert!(!offline.is_empty());

    // The inventory collector's calls: one list-targeted chunk (here with a pending key too).
    let mut tgt = lists.accepted.clone();
    tgt.push(lists.pending[0].clone());
    let families = sim
        .call(json!({"client": "local", "tgt": tgt, "tgt_type": "list", "fun": "grains.get", "arg": ["os_family"]}))
        .await;
    let plain = sim
        .call(json!({"client": "local", "tgt": tgt, "tgt_type": "list", "fun": "pkg.list_pkgs"}))
        .await;
    let as_list = sim
        .call(json!({"client": "local", "tgt": tgt, "tgt_type": "list", "fun": "pkg.list_pkgs", "kwarg": {"versions_as_list": true}}))
        .await;
    for v in [&plain, &as_list] {
        assert_eq!(keys(ret0(v)), tgt.iter().cloned().collect());
        let parsed = parse_local_returns(ret0(v).clone()).unwrap();
        for id in &offline {
            assert_eq!(ret0(v)[id.as_str()], ret0(&families)[id.as_str()]);
            assert!(matches!(
                parsed[id.as_str()],
                MinionReturn::NoResponse { .. }
            ));
        }
        let pending = ret0(v)[&lists.pending[0]].as_str().unwrap();
        assert!(pending.starts_with("Minion did not return. [No response]"));
        assert!(matches!(parsed[&present[0]], MinionReturn::Returned { .. }));
    }

    let (mut below, mut above) = (0, 0);
    let mut seen_families = BTreeSet::new();
    for id in &present {
        let names = check_pkg_list(&ret0(&plain)[id], false, id);
        let list_names = check_pkg_list(&ret0(&as_list)[id], true, id);
        assert_eq!(names, list_names, "{id}: the same packages in both forms");
        assert!(
            (1350..1650).contains(&names.len()),
            "{id}: {} packages",
            names.len()
        );
        for name in &names {
            let joined: Vec<&str> = ret0(&as_list)[id][name]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            assert_eq!(ret0(&plain)[id][name], joined.join(","), "{id}: {name}");
        }
        // Packages by OS family, like the real ones.
        let family = ret0(&families)[id].as_str().unwrap();
        seen_families.insert(family.to_string());
        let must: &[&str] = match family {
            "Debian" => &["libc6", "libssl3", "openssh-server", "dpkg"],
            "RedHat" => &["glibc", "openssl-libs", "openssh-server", "kernel", "rpm"],
            "Suse" => &[
                "glibc",
                "libopenssl3",
                "openssh",
                "kernel-default",
                "zypper",
            ],
            "Arch" => &["glibc", "openssh", "linux", "pacman"],
            other => panic!("{id}: os_family {other}"),
        };
        for n in must.iter().chain(&["openssl", "bash", "curl", "systemd"]) {
            assert!(names.iter().any(|x| x == n), "{id} ({family}) lacks {n}");
        }
        let ssl = ret0(&plain)[id]["openssl"].as_str().unwrap();
        if upstream(ssl) < vec![3, 0, 13] {
            below += 1;
        } else {
            above += 1;
        }
    }
    assert!(seen_families.len() >= 3, "{seen_families:?}");
    assert!(
        below > 0 && above > 0,
        "openssl: {below} below 3.0.13, {above} not"
    );

    // Deterministic: the same call, the same packages.
    let again = sim
        .call(json!({"client": "local", "tgt": present[0], "fun": "pkg.list_pkgs"}))
        .await;
    assert_eq!(ret0(&again)[&present[0]], ret0(&plain)[&present[0]]);
    // The keyword is read as Salt reads it; a positional True works too.
    let positional = sim
        .call(json!({"client": "local", "tgt": present[0], "fun": "pkg.list_pkgs", "arg": [true]}))
        .await;
    assert_eq!(ret0(&positional)[&present[0]], ret0(&as_list)[&present[0]]);
    let off = sim
        .call(json!({"client": "local", "tgt": present[0], "fun": "pkg.list_pkgs", "kwarg": {"versions_as_list": "False"}}))
        .await;
    assert_eq!(ret0(&off)[&present[0]], ret0(&plain)[&present[0]]);
}

/// The fields of every state in a recorded highstate return.
const STATE_FIELDS: [&str; 9] = [
    "__id__",
    "__run_num__",
    "__sls__",
    "changes",
    "comment",
    "duration",
    "name",
    "result",
    "start_time",
];

/// What one minion's state return says.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Verdict {
    Clean,
    Changed,
    Failing(usize),
    RenderError,
}

/// Check one minion's return of a state run (the value of `return`) the way the recording
/// has it, with its retcode when known: `<mod>_|-<id>_|-<name>_|-<fun>` keys, exactly the
/// recorded fields with the recorded types (`result` may be null in test mode), `__run_num__`
/// 0..n; or a render error (a list of strings, retcode 1).
fn check_state_return(ret: &Value, retcode: Option<i64>, ctx: &str) -> Verdict {
    if let Value::Array(errs) = ret {
        assert!(!errs.is_empty(), "{ctx}: empty error list");
        assert!(errs.iter().all(Value::is_string), "{ctx}: {ret}");
        assert!(
            retcode.is_none_or(|rc| rc == 1),
            "{ctx}: render error retcode"
        );
        return Verdict::RenderError;
    }
    let states = ret
        .as_object()
        .unwrap_or_else(|| panic!("{ctx}: not a state dict: {ret}"));
    assert!(!states.is_empty(), "{ctx}: no states");
    let (mut failing, mut changed) = (0, false);
    let mut run_nums = BTreeSet::new();
    for (key, st) in states {
        let parts: Vec<&str> = key.split("_|-").collect();
        assert_eq!(parts.len(), 4, "{ctx}: key {key}");
        assert!(
            !parts[0].is_empty()
                && parts[0]
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_'),
            "{ctx}: module in {key}"
        );
        assert!(!parts[3].is_empty(), "{ctx}: function in {key}");
        let fields: BTreeSet<&str> = st
            .as_object()
            .unwrap_or_else(|| panic!("{ctx}: {key} is not an object"))
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(fields, STATE_FIELDS.into_iter().collect(), "{ctx}: {key}");
        assert_eq!(st["__id__"], parts[1], "{ctx}: __id__ of {key}");
        assert_eq!(st["name"], parts[2], "{ctx}: name of {key}");
        for f in ["__sls__", "comment"] {
            assert!(st[f].is_string(), "{ctx}: {key}.{f}");
        }
        assert!(st["changes"].is_object(), "{ctx}: {key}.changes");
        assert!(st["duration"].is_number(), "{ctx}: {key}.duration");
        let t = st["start_time"].as_str().unwrap_or_default();
        assert!(
            t.len() == 15 && &t[2..3] == ":" && &t[5..6] == ":" && &t[8..9] == ".",
            "{ctx}: {key}.start_time {t}"
        );
        run_nums.insert(
            st["__run_num__"]
                .as_u64()
                .unwrap_or_else(|| panic!("{ctx}: {key}.__run_num__")),
        );
        match &st["result"] {
            Value::Bool(false) => failing += 1,
            Value::Bool(true) => {}
            Value::Null => changed = true,
            other => panic!("{ctx}: {key}.result {other}"),
        }
        changed |= st["changes"].as_object().is_some_and(|c| !c.is_empty());
    }
    assert_eq!(
        run_nums,
        (0..states.len() as u64).collect(),
        "{ctx}: __run_num__"
    );
    if let Some(rc) = retcode {
        assert_eq!(rc, if failing > 0 { 2 } else { 0 }, "{ctx}: retcode");
    }
    if failing > 0 {
        Verdict::Failing(failing)
    } else if changed {
        Verdict::Changed
    } else {
        Verdict::Clean
    }
}

/// Check a `jobs.list_job` Result entry of a state job (`{"return", "retcode", "success",
/// "out": "highstate"}`).
fn check_state_entry(entry: &Value, real_entry: &Value, ctx: &str) -> Verdict {
    assert_eq!(keys(entry), keys(real_entry), "{ctx}: entry keys");
    assert_eq!(entry["out"], "highstate", "{ctx}");
    let rc = entry["retcode"].as_i64().expect("numeric retcode");
    assert_eq!(entry["success"], json!(rc == 0), "{ctx}: success");
    check_state_return(&entry["return"], Some(rc), ctx)
}

#[tokio::test]
async fn state_jobs_match_the_highstate_recording() {
    let sim = start(SimConfig {
        minions: 1500,
        pending: 5,
        rejected: 2,
        offline_fraction: 0.05,
        seed: 11,
        ..SimConfig::default()
    })
    .await;
    let accepted = parse_key_lists(
        unwrap_wheel(
            "key.list_all",
            ret0(&sim.wheel("key.list_all", json!({})).await).clone(),
        )
        .unwrap(),
    )
    .unwrap()
    .accepted;
    let present: BTreeSet<String> = parse_string_list(
        "manage.present",
        ret0(&sim.runner("manage.present", json!({})).await).clone(),
    )
    .unwrap()
    .into_iter()
    .collect();

    // The checker accepts the real recording (3006, 3007 and 3008), and sees broken-01 fail.
    for version in ["3006.29", "3007.16", "3008.4"] {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/salt")
            .join(version)
            .join("list_job_highstate.json");
        let real: Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
        let res = ret0(&real)["Result"].as_object().unwrap();
        for (id, entry) in res {
            let v = check_state_entry(entry, one_entry(&ret0(&real)["Result"]), id);
            assert_eq!(
                matches!(v, Verdict::Failing(2)),
                id == "broken-01",
                "{version} {id}: {v:?}"
            );
        }
    }
    let real = fixture("list_job_highstate.json");
    let real_job = ret0(&real);
    let real_entry = one_entry(&real_job["Result"]);

    // The seeded history holds state runs: fleet-wide, per role, test mode, single sls.
    let v = sim
        .runner("jobs.list_jobs", json!({"search_function": "state.*"}))
        .await;
    let jobs = parse_list_jobs(ret0(&v).clone()).unwrap();
    let fleet: Vec<&JobSummary> = jobs
        .iter()
        .filter(|j| j.target.as_deref() == Some("*"))
        .collect();
    assert!(fleet.len() >= 4, "fleet-wide state runs: {}", fleet.len());
    assert!(jobs.len() >= 10, "{} state jobs", jobs.len());

    // A fleet-wide run: the recorded shape, and a realistic mix.
    let jid = fleet[0].jid.clone();
    let (status, body) = sim
        .post_raw(json!({"client": "runner", "fun": "jobs.list_job", "jid": jid}))
        .await;
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    let job = ret0(&v);
    assert_eq!(keys(job), keys(real_job));
    for k in [
        "jid",
        "Function",
        "Arguments",
        "Target",
        "Target-type",
        "User",
        "StartTime",
    ] {
        assert_eq!(kind(&job[k]), kind(&real_job[k]), "{k}");
    }
    assert_eq!(job["Function"], "state.apply");
    let minions: Vec<String> = serde_json::from_value(job["Minions"].clone()).unwrap();
    assert_eq!(minions, accepted);
    let result = job["Result"].as_object().unwrap();
    let mut tally = std::collections::BTreeMap::<&str, usize>::new();
    let mut states = 0;
    let mut failing_example = None;
    let mut render_example = None;
    for (id, entry) in result {
        assert!(present.contains(id), "{id} is offline, yet returned");
        let verdict = check_state_entry(entry, real_entry, id);
        let name = match verdict {
            Verdict::Clean => "clean",
            Verdict::Changed => "changed",
            Verdict::Failing(n) => {
                assert!((1..=3).contains(&n), "{id}: {n} failing states");
                failing_example.get_or_insert(id.clone());
                "failing"
            }
            Verdict::RenderError => {
                render_example.get_or_insert(id.clone());
                "render"
            }
        };
        *tally.entry(name).or_default() += 1;
        states += entry["return"].as_object().map_or(0, |m| m.len());
    }
    let returned = result.len();
    let share = |k: &str| tally.get(k).copied().unwrap_or(0) as f64 / returned as f64;
    eprintln!(
        "fleet-wide run over {} minions: {returned} returned, {tally:?}, {} bytes",
        minions.len(),
        body.len()
    );
    let silent = present
        .iter()
        .filter(|id| !result.contains_key(*id))
        .count();
    let silent_share = silent as f64 / present.len() as f64;
    assert!(
        (0.01..0.06).contains(&silent_share),
        "connected minions that did not return: {silent_share}"
    );
    assert!(share("clean") > 0.7, "{tally:?}");
    assert!((0.05..0.3).contains(&share("changed")), "{tally:?}");
    assert!((0.015..0.07).contains(&share("failing")), "{tally:?}");
    assert!((0.002..0.03).contains(&share("render")), "{tally:?}");
    let per_minion = states as f64 / (returned - tally.get("render").copied().unwrap_or(0)) as f64;
    assert!(
        (36.0..=45.0).contains(&per_minion),
        "{per_minion} states a minion"
    );

    // Halite's parsers read it: the failing state with Salt's comment, the render error.
    let detail = parse_list_job(job.clone()).unwrap();
    assert_eq!(detail.minions, accepted);
    assert_eq!(detail.results.len(), returned);
    let failing = failing_example.expect("some minion fails");
    let parsed = halite::salt::state::parse_state_return(&detail.results[&failing].ret);
    let bad: Vec<_> = parsed
        .states
        .iter()
        .filter(|s| s.result == Some(false))
        .collect();
    assert!(
        !bad.is_empty()
            && bad
                .iter()
                .all(|s| !s.comment.is_empty() && !s.fun.is_empty())
    );
    let render = render_example.expect("some minion fails to render");
    let parsed = halite::salt::state::parse_state_return(&detail.results[&render].ret);
    assert!(parsed.states.is_empty());
    assert!(parsed.errors[0].contains("failed"), "{:?}", parsed.errors);
    // The render error entry as the lab recorded one (a list of strings, retcode 1).
    let real_render = fixture("list_job_render_error.json");
    assert_same_shape(
        &result[&render],
        &ret0(&real_render)["Result"]["web-01"],
        "render error entry",
    );
    assert_eq!(result[&render]["retcode"], 1);

    // Generated again on each look-up, identically.
    let (_, again) = sim
        .post_raw(json!({"client": "runner", "fun": "jobs.list_job", "jid": jid}))
        .await;
    assert!(again == body, "same jid, same returns");
    // Another run of the same fleet differs.
    let other = sim
        .runner("jobs.list_job", json!({"jid": fleet[1].jid.clone()}))
        .await;
    assert_ne!(ret0(&other)["Result"], job["Result"]);

    // Test mode: what would change has `result: null`; a single sls applies only its states.
    let test_job = jobs
        .iter()
        .find(|j| {
            j.arguments
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x.get("test") == Some(&json!(true))))
        })
        .expect("a seeded test-mode run");
    let v = sim
        .runner("jobs.list_job", json!({"jid": test_job.jid.clone()}))
        .await;
    let mut nulls = 0;
    for (id, entry) in ret0(&v)["Result"].as_object().unwrap() {
        check_state_entry(entry, real_entry, id);
        for st in entry["return"]
            .as_object()
            .into_iter()
            .flat_map(|m| m.values())
        {
            nulls += usize::from(st["result"].is_null());
            assert!(st["__sls__"].as_str().unwrap().starts_with("common"));
        }
    }
    assert!(nulls > 0, "test mode shows what would change");

    // local (sync) state.apply: the recorded state_apply shape per minion, the no-response
    // text for those that do not return, and the same returns in the job cache afterwards.
    let v = sim
        .call(json!({"client": "local", "tgt": "sim-web-*", "fun": "state.apply", "full_return": true}))
        .await;
    let sync = ret0(&v).as_object().unwrap();
    let real_apply = fixture("state_apply.json");
    let real_states = one_entry(ret0(&real_apply));
    let mut jid = String::new();
    let mut no_response = 0;
    let real_silent = fixture("local_state_not_returned.json");
    let real_text = ret0(&real_silent)["web-02"].as_str().unwrap();
    for (id, e) in sync {
        assert!(id.starts_with("sim-web-"));
        if e["out"] == "no_return" {
            let text = e["ret"].as_str().unwrap();
            assert!(text.starts_with("Minion did not return."));
            if present.contains(id) {
                // Connected, yet silent in this run: the recorded text, up to the jid.
                assert_eq!(
                    text.rsplit_once(' ').unwrap().0,
                    real_text.rsplit_once(' ').unwrap().0
                );
                no_response += 1;
            }
            continue;
        }
        jid = e["jid"].as_str().unwrap().to_string();
        let verdict = check_state_return(&e["ret"], e["retcode"].as_i64(), id);
        if verdict == Verdict::Clean {
            let any = e["ret"].as_object().unwrap().values().next().unwrap();
            let real_clean = real_states
                .as_object()
                .unwrap()
                .values()
                .find(|s| s["changes"] == json!({}))
                .unwrap_or(any);
            assert_same_shape(any, real_clean, "state entry");
        }
    }
    assert!(
        no_response > 0,
        "connected minions that stay silent show as not returned"
    );
    let cached = sim.runner("jobs.list_job", json!({"jid": jid})).await;
    let cached = ret0(&cached)["Result"].as_object().unwrap();
    for (id, e) in sync {
        match cached.get(id) {
            Some(c) => assert_eq!(c["return"], e["ret"], "{id}"),
            None => assert_eq!(e["out"], "no_return", "{id}"),
        }
    }
    // A connected minion stays silent in a few percent of runs (drawn per jid, as above): a
    // silent run answers the recorded no-response text; the next run (a new jid) is drawn again.
    let mut returned = false;
    for _ in 0..8 {
        let plain = sim
            .call(json!({"client": "local", "tgt": [failing], "tgt_type": "list", "fun": "state.highstate"}))
            .await;
        let entry = one_entry(ret0(&plain));
        if let Some(text) = entry.as_str() {
            assert!(text.starts_with("Minion did not return."), "{text}");
            continue;
        }
        check_state_return(entry, None, "local state.highstate");
        returned = true;
        break;
    }
    assert!(returned, "the minion returned in one of 8 runs");

    // local_async, then list_job: the same shapes.
    let v = sim
        .call(json!({"client": "local_async", "tgt": "sim-db-*", "fun": "state.apply", "arg": ["roles.db"]}))
        .await;
    let started = parse_async_job(ret0(&v).clone()).unwrap().unwrap();
    let v = sim
        .runner("jobs.list_job", json!({"jid": started.jid}))
        .await;
    let res = ret0(&v)["Result"].as_object().unwrap();
    assert!(!res.is_empty());
    for (id, entry) in res {
        assert!(started.minions.contains(id));
        if check_state_entry(entry, real_entry, id) != Verdict::RenderError {
            for st in entry["return"].as_object().unwrap().values() {
                assert_eq!(st["__sls__"], "roles.db");
            }
        }
    }
}

#[tokio::test]
async fn ten_thousand_minions() {
    let t = Instant::now();
    let sim = start(SimConfig::default()).await;
    eprintln!("built 10k minions in {:.2?}", t.elapsed());

    let v = sim.wheel("key.list_all", json!({})).await;
    let lists = parse_key_lists(unwrap_wheel("key.list_all", ret0(&v).clone()).unwrap()).unwrap();
    assert_eq!(
        lists.accepted.len() + lists.pending.len() + lists.rejected.len() + lists.denied.len(),
        10_000
    );
    assert_eq!((lists.pending.len(), lists.rejected.len()), (20, 5));
    assert!(lists.accepted.iter().any(|id| id.starts_with("sim-web-")));
    assert!(lists.accepted.iter().any(|id| id.starts_with("sim-db-")));

    let t = Instant::now();
    let (status, body) = sim
        .post_raw(json!({"client": "runner", "fun": "cache.grains", "tgt": "*"}))
        .await;
    let took = t.elapsed();
    assert_eq!(status, 200);
    eprintln!("cache.grains('*'): {} bytes in {took:.2?}", body.len());
    let all = first_return(&body).unwrap();
    let grains = all.as_object().unwrap();
    assert_eq!(grains.len(), lists.accepted.len());
    let total: usize = grains
        .values()
        .map(|g| serde_json::to_string(g).unwrap().len())
        .sum();
    let avg = total / grains.len();
    assert!((4000..=6000).contains(&avg), "average grains size {avg}");
    let families: BTreeSet<&str> = grains
        .values()
        .filter_map(|g| g["os_family"].as_str())
        .collect();
    assert!(families.len() >= 4, "{families:?}");

    let present = parse_string_list(
        "manage.present",
        ret0(&sim.runner("manage.present", json!({})).await).clone(),
    )
    .unwrap();
    let share = present.len() as f64 / lists.accepted.len() as f64;
    assert!((0.9..0.99).contains(&share), "about 5% offline ({share})");

    // One chunk of the package inventory collector: 200 minions, ~1,500 packages each.
    let chunk: Vec<&String> = present.iter().take(200).collect();
    let t = Instant::now();
    let (status, body) = sim
        .post_raw(json!({"client": "local", "tgt": chunk, "tgt_type": "list", "fun": "pkg.list_pkgs", "kwarg": {"versions_as_list": true}}))
        .await;
    let took = t.elapsed();
    assert_eq!(status, 200);
    let pkgs = first_return(&body).unwrap();
    let pkgs = pkgs.as_object().unwrap();
    assert_eq!(pkgs.len(), 200);
    let total: usize = pkgs
        .values()
        .map(|m| m.as_object().map_or(0, |m| m.len()))
        .sum();
    eprintln!(
        "pkg.list_pkgs on 200 minions: {} packages, {} bytes in {took:.2?}",
        total,
        body.len()
    );
    assert!((200 * 1350..200 * 1650).contains(&total), "{total}");

    // Same seed, same fleet.
    let again = start(SimConfig::default()).await;
    let v2 = again.wheel("key.list_all", json!({})).await;
    assert!(
        wheel_return(&v) == wheel_return(&v2),
        "same seed, same keys"
    );
    let g2 = again
        .runner("cache.grains", json!({"tgt": lists.accepted[0].clone()}))
        .await;
    assert_eq!(ret0(&g2)[&lists.accepted[0]], grains[&lists.accepted[0]]);
}

#[tokio::test]
async fn events_stream_like_the_recorded_one() {
    use halite::salt::events::{SaltEvent, SseParser};
    use std::time::Duration;

    let sim = start(small()).await;

    // 3008 refuses query strings with this page; no token is a 401.
    let r = sim
        .http
        .get(format!("{}/events?token={}", sim.base, sim.token))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let real = fixture_text("events_query_token.txt");
    assert_eq!(
        error_message(&r.text().await.unwrap()),
        error_message(real.split_once("\n\n").unwrap().1)
    );
    let r = sim
        .http
        .get(format!("{}/events", sim.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    let mut stream = sim
        .http
        .get(format!("{}/events", sim.base))
        .header("X-Auth-Token", &sim.token)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let first = stream.chunk().await.unwrap().unwrap();
    assert!(first.starts_with(b"retry: 400\n"));

    let present = parse_string_list(
        "manage.present",
        ret0(&sim.runner("manage.present", json!({})).await).clone(),
    )
    .unwrap();
    let pending = parse_key_lists(
        unwrap_wheel(
            "key.list_all",
            ret0(&sim.wheel("key.list_all", json!({})).await).clone(),
        )
        .unwrap(),
    )
    .unwrap()
    .pending;
    sim.call(json!({"client": "local", "tgt": [present[0], present[1]], "tgt_type": "list", "fun": "test.ping"}))
        .await;
    sim.wheel("key.accept", json!({"match": pending[0]})).await;

    let mut parser = SseParser::default();
    let mut got: Vec<SaltEvent> = vec![];
    while got.len() < 4 {
        let chunk = tokio::time::timeout(Duration::from_secs(10), stream.chunk())
            .await
            .expect("events arrive")
            .unwrap()
            .unwrap();
        got.extend(parser.push(&chunk));
    }
    let sample = SseParser::default().push(fixture_text("events_sample.txt").as_bytes());
    let real_new = sample.iter().find(|e| e.tag.ends_with("/new")).unwrap();
    let real_ret = sample.iter().find(|e| e.tag.contains("/ret/")).unwrap();

    let new = &got[0];
    assert!(
        new.tag.starts_with("salt/job/") && new.tag.ends_with("/new"),
        "{}",
        new.tag
    );
    assert_eq!(keys(&new.data), keys(&real_new.data));
    assert_eq!(new.data["minions"], json!([present[0], present[1]]));
    for ret in &got[1..3] {
        assert!(ret.tag.contains("/ret/"), "{}", ret.tag);
        assert_same_shape(&ret.data, &real_ret.data, "ret event");
        assert_eq!(ret.data["return"], json!(true));
    }
    let key = &got[3];
    assert_eq!(key.tag, "salt/key");
    assert_eq!(key.data["act"], "accept");
    assert_eq!(key.data["id"], json!(pending[0]));
}

#[tokio::test]
async fn halite_salt_client_works_against_the_simulator() {
    use std::time::Duration;

    let cfg = small();
    let sim = start(cfg.clone()).await;
    let client = SaltClient::new(SaltConfig {
        url: sim.base.clone(),
        username: cfg.username.clone(),
        password: cfg.password.clone().into(),
        eauth: "file".into(),
        verify_tls: true,
        timeout: Duration::from_secs(30),
    })
    .unwrap();
    client.ping().await.unwrap();
    let keys = client.key_list_all().await.unwrap();
    assert_eq!(keys.accepted.len(), 55);
    let ips = client.manage_present_ips().await.unwrap();
    assert_eq!(client.manage_present().await.unwrap().len(), ips.len());
    let grains = client.cache_grains("*", "glob").await.unwrap();
    assert_eq!(grains.len(), 55);
    assert!(client.list_jobs(None).await.unwrap().len() >= 150);
    assert!(client
        .list_jobs(Some("2999-01-01 00:00:00"))
        .await
        .unwrap()
        .is_empty());
    assert!(client.jobs_active().await.unwrap().is_empty());
    let pings = client
        .local(&LocalRequest::simple("*", "glob", "test.ping"))
        .await
        .unwrap();
    assert_eq!(pings.len(), 55);
    let fp = client.key_finger(&keys.pending[0]).await.unwrap();
    assert_eq!(fp[0].state, "pending");
    let changed = client
        .key_action(KeyAction::Accept, &keys.pending[0])
        .await
        .unwrap();
    assert_eq!(changed, vec![keys.pending[0].clone()]);
    assert_eq!(client.key_list_all().await.unwrap().accepted.len(), 56);
    // A wrong password is reported as such.
    let bad = SaltClient::new(SaltConfig {
        url: sim.base.clone(),
        username: cfg.username,
        password: "wrong".into(),
        eauth: "file".into(),
        verify_tls: true,
        timeout: Duration::from_secs(30),
    })
    .unwrap();
    assert!(matches!(
        bad.key_list_all().await,
        Err(SaltError::Api { status: 401, .. })
    ));
    assert_eq!(client.login_count(), 1);
}
