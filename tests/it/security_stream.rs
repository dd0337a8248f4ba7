//! Security: an open `/api/activity/stream` follows its session (issue 10, finding 6) and the
//! stream's 403 is audited (finding 12). No Salt lab: the runtime is pointed at a salt-api URL
//! where nothing listens, which keeps an "unreachable" client and serves browser streams from
//! the EventHub; the tests publish events into the hub themselves.

use crate::common::TestApp;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use halite::app::api::activity::ActivityEvent;
use http_body_util::BodyExt;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;
use tower::ServiceExt;

/// Longest a stream may outlive its session (the keepalive interval plus slack).
const WITHIN: Duration = Duration::from_secs(25);
/// Where the stream's end-of-replay event stands among the frames a [`Stream`] collects.
const REPLAYED: i64 = -1;

async fn app_with_stream() -> TestApp {
    let app = TestApp::new().await;
    let db = &app.state.db;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let salt = halite::server::settings::validate_salt(
        &format!("http://127.0.0.1:{port}"),
        "salt",
        "salt-password",
        "pam",
        true,
        true,
    )
    .unwrap();
    halite::server::settings::save_salt(db, &app.state.secrets, &salt)
        .await
        .unwrap();
    let mut p = halite::server::settings::load_view(db)
        .await
        .unwrap()
        .pollers;
    p.event_stream_enabled = true;
    halite::server::settings::save_pollers(db, &p)
        .await
        .unwrap();
    app.state.runtime.boot().await;
    assert!(
        app.state.runtime.hub_if_enabled().is_some(),
        "event stream enabled"
    );
    app
}

fn event(id: i64, category: &str) -> ActivityEvent {
    ActivityEvent {
        id,
        ts: "2025-01-01T00:00:00Z".parse().unwrap(),
        category: category.parse().unwrap(),
        event_type: format!("{category}.test"),
        minion_id: Some("web-01".into()),
        jid: Some(format!("2025010100000000{id:04}")),
        fun: None,
        success: None,
        changed: None,
        initiator: None,
        target: None,
        duration_ms: None,
        summary: String::new(),
    }
}

/// An open stream: the `data:` frames so far, and a receiver that fires when the body ends.
struct Stream {
    frames: Arc<Mutex<Vec<ActivityEvent>>>,
    ended: oneshot::Receiver<()>,
}

impl Stream {
    fn ids(&self) -> Vec<i64> {
        self.frames.lock().unwrap().iter().map(|e| e.id).collect()
    }
    fn has(&self, id: i64) -> bool {
        self.ids().contains(&id)
    }
    async fn wait_for(&self, id: i64) {
        let deadline = tokio::time::Instant::now() + WITHIN;
        while !self.has(id) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "event {id} never arrived; got {:?}",
                self.ids()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    /// Wait (bounded) for the server to end the stream.
    async fn assert_ends(self, why: &str) {
        let started = std::time::Instant::now();
        match tokio::time::timeout(WITHIN, self.ended).await {
            Ok(_) => eprintln!("stream ended {:?} after {why}", started.elapsed()),
            Err(_) => panic!("the stream was still open {WITHIN:?} after {why}"),
        }
    }
    fn is_open(&mut self) -> bool {
        matches!(
            self.ended.try_recv(),
            Err(oneshot::error::TryRecvError::Empty)
        )
    }
}

async fn open(app: &TestApp, cookie: &str) -> (StatusCode, Option<Stream>) {
    let req = Request::get("/api/activity/stream")
        .header(header::HOST, "halite.test")
        .header(header::COOKIE, cookie)
        .header(header::ACCEPT, "text/event-stream")
        .body(Body::empty())
        .unwrap();
    let res = app.router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    if status != StatusCode::OK {
        let _ = res.into_body().collect().await;
        return (status, None);
    }
    let frames = Arc::new(Mutex::new(vec![]));
    let (tx, ended) = oneshot::channel();
    let out = frames.clone();
    let mut body = res.into_body();
    tokio::spawn(async move {
        let mut buf = String::new();
        // `frame()` yields until the server ends the body (None) or fails it (Some(Err)).
        while let Some(Ok(f)) = body.frame().await {
            let Ok(chunk) = f.into_data() else { continue };
            buf.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(i) = buf.find("\n\n") {
                let frame: String = buf.drain(..i + 2).collect();
                for line in frame.lines() {
                    if line == "event: replayed" {
                        out.lock().unwrap().push(event(REPLAYED, "system"));
                    }
                    if let Some(d) = line.strip_prefix("data: ") {
                        if let Ok(v) = serde_json::from_str::<ActivityEvent>(d) {
                            out.lock().unwrap().push(v);
                        }
                    }
                }
            }
        }
        let _ = tx.send(());
    });
    (status, Some(Stream { frames, ended }))
}

/// Open a stream and prove it is live with one event.
async fn open_live(app: &TestApp, cookie: &str, probe: i64) -> Stream {
    let (st, s) = open(app, cookie).await;
    assert_eq!(st, StatusCode::OK);
    let s = s.unwrap();
    app.state.runtime.hub().publish(vec![event(probe, "job")]);
    s.wait_for(probe).await;
    s
}

/// The replay ring, then the `replayed` marker, then live events: the browser tells history from
/// news by the marker (an event stored just after the stream opened is news, however soon).
#[tokio::test]
async fn the_replay_ends_with_a_marker_before_live_events() {
    let app = app_with_stream().await;
    app.create_user("watcher", "watcher-password-1", &["viewer"])
        .await;
    let cookie = app.login("watcher", "watcher-password-1").await;
    let hub = app.state.runtime.hub();
    hub.publish(vec![event(1, "job"), event(2, "key")]);
    let (st, s) = open(&app, &cookie).await;
    assert_eq!(st, StatusCode::OK);
    let s = s.unwrap();
    hub.publish(vec![event(3, "job")]);
    s.wait_for(3).await;
    assert_eq!(s.ids(), vec![1, 2, REPLAYED, 3]);
}

#[tokio::test]
async fn logout_in_another_tab_ends_the_stream() {
    let app = app_with_stream().await;
    app.create_user("watcher", "watcher-password-1", &["viewer"])
        .await;
    app.create_user("bystander", "bystander-password-1", &["viewer"])
        .await;
    let cookie = app.login("watcher", "watcher-password-1").await;
    let other = app.login("bystander", "bystander-password-1").await;
    let stream = open_live(&app, &cookie, 1).await;
    let mut control = open_live(&app, &other, 2).await;

    // "Another tab" with the same cookie signs out.
    let r = app.call("auth/logout", &[], Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    stream.assert_ends("logout").await;

    // Someone else's stream is untouched and still delivers.
    assert!(control.is_open(), "the other user's stream stays open");
    app.state.runtime.hub().publish(vec![event(3, "job")]);
    control.wait_for(3).await;
    // And the signed-out cookie cannot reopen it.
    let (st, _) = open(&app, &cookie).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn password_change_elsewhere_ends_the_stream() {
    let app = app_with_stream().await;
    app.create_user("watcher", "watcher-password-1", &["viewer"])
        .await;
    let a = app.login("watcher", "watcher-password-1").await;
    let b = app.login("watcher", "watcher-password-1").await;
    let stream_a = open_live(&app, &a, 1).await;
    let mut stream_b = open_live(&app, &b, 2).await;
    let r = app
        .call(
            "auth/change-password",
            &[
                ("current_password", "watcher-password-1"),
                ("new_password", "watcher-password-2"),
                ("confirm_password", "watcher-password-2"),
            ],
            Some(&b),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    stream_a
        .assert_ends("a password change in another session")
        .await;
    // The session that changed the password keeps its stream.
    assert!(stream_b.is_open());
    app.state.runtime.hub().publish(vec![event(3, "job")]);
    stream_b.wait_for(3).await;
}

#[tokio::test]
async fn deactivation_and_forced_password_change_end_the_stream() {
    let app = app_with_stream().await;
    app.create_user("gone", "gone-password-1", &["viewer"])
        .await;
    app.create_user("forced", "forced-password-1", &["viewer"])
        .await;
    let gone = app.login("gone", "gone-password-1").await;
    let forced = app.login("forced", "forced-password-1").await;
    let s_gone = open_live(&app, &gone, 1).await;
    let s_forced = open_live(&app, &forced, 2).await;
    halite::with_db!(&app.state.db, p => {
            sqlx::query("UPDATE users SET is_active = FALSE WHERE username = 'gone'")
            .execute(p)
            .await
            .unwrap();
    });
    halite::with_db!(&app.state.db, p => {
            sqlx::query("UPDATE users SET must_change_pw = TRUE WHERE username = 'forced'")
            .execute(p)
            .await
            .unwrap();
    });
    s_gone.assert_ends("deactivation").await;
    s_forced
        .assert_ends("an administrator forcing a password change")
        .await;
}

#[tokio::test]
async fn role_change_refilters_and_losing_every_category_ends_the_stream() {
    let app = app_with_stream().await;
    app.create_role("watch", &[("view", "job:*"), ("view", "key:*")])
        .await;
    app.create_user("watcher", "watcher-password-1", &["watch"])
        .await;
    let cookie = app.login("watcher", "watcher-password-1").await;
    let stream = open_live(&app, &cookie, 1).await;

    // The role loses view:job.
    halite::with_db!(&app.state.db, p => {
            sqlx::query("DELETE FROM permissions WHERE role_id = 'r-watch' AND verb = 'view' AND resource_glob = 'job:*'")
            .execute(p)
            .await
            .unwrap();
    });
    // Publish a job then a key event per round until a round's key event arrives without its
    // job event: the stream has re-filtered.
    let hub = app.state.runtime.hub();
    let deadline = tokio::time::Instant::now() + WITHIN;
    let mut id = 100;
    loop {
        hub.publish(vec![event(id, "job"), event(id + 1, "key")]);
        stream.wait_for(id + 1).await;
        if !stream.has(id) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "job events still arrive {WITHIN:?} after view:job was removed"
        );
        id += 2;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // From then on, no job event at all.
    let first_filtered = id;
    for _ in 0..3 {
        id += 2;
        hub.publish(vec![event(id, "job"), event(id + 1, "key")]);
        stream.wait_for(id + 1).await;
    }
    let leaked: Vec<i64> = stream
        .ids()
        .into_iter()
        .filter(|i| *i >= first_filtered && i % 2 == 0)
        .collect();
    assert!(leaked.is_empty(), "job events after the change: {leaked:?}");

    // Losing the last visible category ends the stream.
    halite::with_db!(&app.state.db, p => {
            sqlx::query("DELETE FROM permissions WHERE role_id = 'r-watch'")
            .execute(p)
            .await
            .unwrap();
    });
    stream.assert_ends("the user lost every view grant").await;
}

#[tokio::test]
async fn a_stream_refused_for_nothing_visible_is_audited() {
    let app = app_with_stream().await;
    app.create_role("auditor", &[("view", "audit:*")]).await;
    app.create_user("auditor", "auditor-password-1", &["auditor"])
        .await;
    let cookie = app.login("auditor", "auditor-password-1").await;
    assert!(app.audit_rows("permission.denied").await.is_empty());
    let (st, _) = open(&app, &cookie).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let rows = app.audit_rows("permission.denied").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    let (decision, code, args, username) = &rows[0];
    assert_eq!(decision, "deny");
    assert_eq!(*code, 403);
    assert_eq!(username.as_deref(), Some("auditor"));
    assert!(args.as_deref().unwrap_or("").contains("view"), "{args:?}");
}

/// Issue 12: an administrator's change to a user reaches that user's open stream through the
/// notifier, well before the periodic re-check (5 s).
#[tokio::test]
async fn an_admin_deactivating_the_user_ends_the_stream_at_once() {
    let app = app_with_stream().await;
    app.create_user("boss", "boss-password-1", &["admin"]).await;
    app.create_user("watcher", "watcher-password-1", &["viewer"])
        .await;
    let boss = app.login("boss", "boss-password-1").await;
    let cookie = app.login("watcher", "watcher-password-1").await;
    let stream = open_live(&app, &cookie, 1).await;
    let id: String = halite::with_db!(&app.state.db, p => {
            sqlx::query_scalar("SELECT id FROM users WHERE username = 'watcher'")
            .fetch_one(p)
            .await
            .unwrap()
    });
    let form = [("id", id.as_str()), ("is_active", "false")];
    let r = app.call("users/update", &form, Some(&boss)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let prompt = tokio::time::timeout(Duration::from_secs(3), stream.ended).await;
    assert!(
        prompt.is_ok(),
        "the stream waited for its periodic re-check"
    );
}

/// The activity store behind the stream's page (either engine): a batch with a `job.new` indexes
/// the job and back-fills the returns' initiator and target from it; a reader limited to
/// `job:<jid>` sees that job's rows and the system rows only (fnmatch grants, as the engine
/// translates them); time, search and id filters; the raw event comes back as the same JSON.
#[tokio::test]
async fn activity_rows_store_filter_and_read_back() {
    use halite::rbac::Permission;
    use halite::salt::events::SaltEvent;
    use halite::server::activity::normalize::{normalize, AuthDedup};
    use halite::server::activity::store::{self, ActivityQuery, Visibility};
    use serde_json::json;
    let app = TestApp::new().await;
    let db = &app.state.db;
    let now = chrono::Utc::now();
    let (jid, other) = ("20261130090000123456", "20261130090100654321");
    let mut dedup = AuthDedup::default();
    let mut rows = vec![];
    for ev in [
        SaltEvent {
            tag: format!("salt/job/{jid}/new"),
            data: json!({"jid": jid, "fun": "test.ping", "tgt": "web-*", "tgt_type": "glob",
                "user": "alice", "minions": ["web-1"], "arg": []}),
        },
        SaltEvent {
            tag: format!("salt/job/{jid}/ret/web-1"),
            data: json!({"jid": jid, "fun": "test.ping", "id": "web-1", "retcode": 0, "return": true}),
        },
        SaltEvent {
            tag: format!("salt/job/{other}/ret/db-1"),
            data: json!({"jid": other, "fun": "cmd.run", "id": "db-1", "retcode": 1, "return": "no"}),
        },
    ] {
        rows.extend(normalize(&ev, &mut dedup));
    }
    assert_eq!(rows.len(), 3, "{rows:?}");
    let stored = store::insert_batch(db, &rows, now).await.unwrap();
    assert_eq!(stored.len(), 3);
    assert!(stored.windows(2).all(|w| w[0].id < w[1].id), "ids in order");
    // The return lacked user and target: filled in from the job the batch just indexed.
    assert_eq!(stored[1].initiator.as_deref(), Some("alice"));
    assert_eq!(stored[1].target.as_deref(), Some("web-*"));
    let job = halite::server::jobs::store::get(db, jid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (job.function.as_str(), job.arguments.as_deref()),
        ("test.ping", Some("[]"))
    );
    let gap = store::insert_system(db, "Event stream was down", now)
        .await
        .unwrap();
    assert!(gap.id > stored[2].id);

    let all = Visibility::of(&[Permission::new("view", "*")]);
    let q = |f: fn(&mut ActivityQuery)| {
        let mut aq = ActivityQuery {
            page: 1,
            per_page: 50,
            ..Default::default()
        };
        f(&mut aq);
        aq
    };
    let (page, total) = store::list(db, &q(|_| {}), &all).await.unwrap();
    assert_eq!(total, 4);
    assert_eq!(page[0].event_type, "stream.gap", "newest first");
    assert_eq!(page[0].ts.timestamp_millis(), now.timestamp_millis());
    // Only `job:<jid>`: that job's two rows and the system row.
    let some = Visibility::of(&[Permission::new("view", &format!("job:{}*", &jid[..12]))]);
    let (page, total) = store::list(db, &q(|_| {}), &some).await.unwrap();
    assert_eq!(total, 3, "{page:?}");
    assert!(page.iter().all(|r| r.jid.as_deref() != Some(other)));
    let (_, total) = store::list(db, &q(|a| a.search = Some("DB-1".into())), &all)
        .await
        .unwrap();
    assert_eq!(total, 1, "search is case-insensitive");
    let (_, total) = store::list(db, &q(|a| a.hide_dispatch = true), &all)
        .await
        .unwrap();
    assert_eq!(total, 3);
    let mut aq = q(|_| {});
    aq.since = Some(now - chrono::Duration::minutes(1));
    assert_eq!(store::list(db, &aq, &all).await.unwrap().1, 4);
    aq.since = Some(now + chrono::Duration::minutes(1));
    assert_eq!(store::list(db, &aq, &all).await.unwrap().1, 0);
    aq.since = None;
    aq.until = Some(now + chrono::Duration::minutes(1));
    aq.after_id = Some(stored[2].id);
    assert_eq!(store::list(db, &aq, &all).await.unwrap().1, 1);
    // The raw event: the same JSON (Postgres stores it as jsonb, so compare it parsed).
    let (cat, minion, raw_jid, raw) = store::raw(db, stored[1].id).await.unwrap().unwrap();
    assert_eq!(cat, halite::model::activity::EventCategory::Job);
    assert_eq!(
        (minion.as_deref(), raw_jid.as_deref()),
        (Some("web-1"), Some(jid))
    );
    let raw: serde_json::Value = serde_json::from_str(&raw.unwrap()).unwrap();
    let want: serde_json::Value = serde_json::from_str(&rows[1].raw).unwrap();
    assert_eq!(raw, want);
    assert!(store::raw(db, gap.id).await.unwrap().unwrap().3.is_none());
}
