//! Salt bus event -> activity row (SPEC 7.3). Pure: no DB, no I/O; unit-tested on the lab's
//! recorded events.

use crate::model::activity::{ActivityEvent, EventCategory};
use crate::salt::events::{EventTag, KeyChange, SaltEvent};
use serde_json::Value;
use std::collections::HashMap;

/// A row to insert into `activity_events`: the feed row it becomes (id and time are set when it
/// is stored) plus what only the insert needs.
#[derive(Debug, Clone, PartialEq)]
pub struct NewActivity {
    pub event: ActivityEvent,
    /// `{tag, data}` as received (clipped for huge returns).
    pub raw: String,
    /// For `job.new`: the arguments to index the job with.
    pub arguments: Option<String>,
    pub target_type: Option<String>,
}

impl NewActivity {
    fn new(ev: &SaltEvent, category: EventCategory, event_type: &str, summary: String) -> Self {
        NewActivity {
            event: ActivityEvent::new(category, event_type, clip(summary, 512)),
            raw: raw(ev),
            arguments: None,
            target_type: None,
        }
    }
}

/// Functions that are polling noise (Salt's own `find_job`, the `saltutil.running` that
/// `jobs.active` fans out for Halite's jobs poller, the function catalogue's
/// `sys.list_functions`): never activity rows.
pub fn is_noise(fun: &str) -> bool {
    matches!(
        fun,
        "saltutil.find_job" | "saltutil.running" | "sys.list_functions"
    )
}

/// Remembers `salt/auth` states per minion: a pending or rejected minion re-authenticates every
/// few seconds, and an accepted one on every reconnect. Only a change is news.
#[derive(Debug, Default)]
pub struct AuthDedup {
    last: HashMap<String, String>,
}

impl AuthDedup {
    /// True when this (minion, act) was the last thing seen for the minion.
    fn repeat(&mut self, id: &str, act: &str) -> bool {
        if self.last.get(id).map(String::as_str) == Some(act) {
            return true;
        }
        if self.last.len() > 200_000 {
            self.last.clear();
        }
        self.last.insert(id.to_string(), act.to_string());
        false
    }
}

fn clip(s: String, max: usize) -> String {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// Size limit for the stored raw event (a `pkg.list_pkgs` return can be megabytes).
const RAW_MAX: usize = 256 * 1024;

/// Event fields that carry a job's arguments (redacted before anything is stored).
const ARG_FIELDS: &[&str] = &["arg", "fun_args", "kwargs", "kwarg"];

/// The event data with secret-like arguments redacted (see [`crate::server::audit::redact`]).
fn redacted_data(d: &Value) -> std::borrow::Cow<'_, Value> {
    let Some(o) = d.as_object() else {
        return std::borrow::Cow::Borrowed(d);
    };
    if !ARG_FIELDS.iter().any(|k| o.contains_key(*k)) {
        return std::borrow::Cow::Borrowed(d);
    }
    let mut o = o.clone();
    for k in ARG_FIELDS {
        if let Some(v) = o.get_mut(*k) {
            *v = crate::server::audit::redact(v);
        }
    }
    std::borrow::Cow::Owned(Value::Object(o))
}

fn raw(ev: &SaltEvent) -> String {
    let data = redacted_data(&ev.data);
    let full = serde_json::json!({ "tag": ev.tag, "data": data }).to_string();
    if full.len() <= RAW_MAX {
        return full;
    }
    let mut data = data.into_owned();
    if let Some(o) = data.as_object_mut() {
        o.insert(
            "return".into(),
            Value::String(format!("[return of {} bytes not stored]", full.len())),
        );
    }
    let smaller = serde_json::json!({ "tag": ev.tag, "data": data }).to_string();
    if smaller.len() <= RAW_MAX {
        return smaller;
    }
    // Still too large without its return: keep the tag and say so. Always whole JSON (a cut
    // text is no JSON, and Postgres' jsonb column refuses it).
    serde_json::json!({
        "tag": clip(ev.tag.clone(), 1024),
        "data": format!("[event data of {} bytes not stored]", smaller.len()),
    })
    .to_string()
}

/// Normalise one event into zero or more rows (SPEC 7.3). Salt 3006-3008 fire no `salt/key`
/// event for a key action made through salt-api: the wheel call's `salt/wheel/<jid>/ret` (fun
/// `wheel.key.accept|reject|delete`) is what announces it, one row per key it changed.
pub fn normalize(ev: &SaltEvent, dedup: &mut AuthDedup) -> Vec<NewActivity> {
    if ev.kind() == EventTag::WheelRet {
        return wheel_key_rows(ev, dedup);
    }
    normalize_one(ev, dedup).into_iter().collect()
}

fn wheel_key_rows(ev: &SaltEvent, dedup: &mut AuthDedup) -> Vec<NewActivity> {
    let Some(KeyChange { act, ids }) = ev.key_change() else {
        return vec![];
    };
    let verb = match act {
        "accept" => "accepted",
        "reject" => "rejected",
        _ => "deleted",
    };
    ids.into_iter()
        .map(|id| {
            dedup.last.insert(id.clone(), act.to_string());
            let mut a = NewActivity::new(
                ev,
                EventCategory::Key,
                &format!("key.{act}"),
                format!("{id} key {verb}"),
            );
            a.event.minion_id = Some(id.clone());
            a.event.initiator = ev.field("user").map(|u| clip(u, 255));
            a
        })
        .collect()
}

fn normalize_one(ev: &SaltEvent, dedup: &mut AuthDedup) -> Option<NewActivity> {
    let d = &ev.data;
    let base = |category, event_type: &str, summary: String| {
        NewActivity::new(ev, category, event_type, summary)
    };
    match ev.kind() {
        EventTag::JobNew { jid } => {
            let fun = ev.field("fun")?;
            if is_noise(&fun) {
                return None;
            }
            let n = d
                .get("minions")
                .and_then(Value::as_array)
                .map(|a| a.len())
                .unwrap_or(0);
            let mut a = base(
                EventCategory::Job,
                "job.new",
                format!(
                    "{fun} dispatched to {n} minion{}",
                    if n == 1 { "" } else { "s" }
                ),
            );
            a.event.jid = Some(jid.to_string());
            a.event.initiator = ev.field("user").map(|u| clip(u, 255));
            a.event.target = ev.field("tgt").map(|t| clip(t, 2048));
            a.target_type = ev.field("tgt_type");
            a.arguments = d
                .get("arg")
                .map(|v| crate::server::audit::redact(v).to_string());
            a.event.fun = Some(fun);
            Some(a)
        }
        EventTag::JobRet { jid, minion } => {
            let fun = ev.field("fun")?;
            if is_noise(&fun) {
                return None;
            }
            let id = ev.field("id").unwrap_or_else(|| minion.to_string());
            let retcode = d.get("retcode").and_then(Value::as_i64);
            let success = match retcode {
                Some(c) => Some(c == 0),
                None => d.get("success").and_then(Value::as_bool),
            };
            let ret = d.get("return").cloned().unwrap_or(Value::Null);
            let (changed, duration_ms) = match crate::salt::state::state_facts(&ret) {
                Some((changed, ms)) => (Some(changed), Some(ms.round() as i64)),
                None => (None, None),
            };
            // A state run whose return is a list of strings failed to render.
            let success = if ret.is_array() && fun.starts_with("state.") {
                Some(false)
            } else {
                success
            };
            let mark = match success {
                Some(false) => "failed",
                _ if changed == Some(true) => "made changes",
                _ => "ok",
            };
            let mut a = base(
                EventCategory::Job,
                "job.ret",
                format!("{id} returned {fun}: {mark}"),
            );
            a.event.minion_id = Some(id);
            a.event.jid = Some(jid.to_string());
            a.event.fun = Some(fun);
            a.event.success = success;
            a.event.changed = changed;
            a.event.duration_ms = duration_ms;
            a.event.initiator = ev.field("user").map(|u| clip(u, 255));
            a.event.target = ev.field("tgt").map(|t| clip(t, 2048));
            Some(a)
        }
        EventTag::MinionStart { id } => {
            let mut a = base(
                EventCategory::Minion,
                "minion.start",
                format!("{id} came online"),
            );
            a.event.minion_id = Some(id.to_string());
            Some(a)
        }
        tag @ (EventTag::Key | EventTag::Auth) => {
            let id = ev.field("id")?;
            let act = ev.field("act")?;
            let verb = match act.as_str() {
                "accept" => "accepted",
                "reject" => "rejected",
                "delete" => "deleted",
                "pend" => "pending",
                _ => return None,
            };
            if tag == EventTag::Auth {
                // Re-auth noise: an accepted minion's every reconnect, a pending or rejected
                // minion's every retry. Only a change of state is news.
                if act == "accept" || dedup.repeat(&id, &act) {
                    return None;
                }
            } else {
                // A key action: remember it so the next salt/auth repeat is suppressed.
                dedup.last.insert(id.clone(), act.clone());
            }
            let mut a = base(
                EventCategory::Key,
                &format!("key.{act}"),
                format!("{id} key {verb}"),
            );
            a.event.minion_id = Some(id);
            Some(a)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::salt::events::SseParser;
    use serde_json::json;

    fn one(e: &SaltEvent, dd: &mut AuthDedup) -> Option<ActivityEvent> {
        normalize(e, dd).pop().map(|a| a.event)
    }

    fn ev(tag: &str, data: Value) -> SaltEvent {
        SaltEvent {
            tag: tag.into(),
            data,
        }
    }

    #[test]
    fn stored_raw_is_always_whole_json() {
        let big = "x".repeat(RAW_MAX + 10);
        // A huge return: dropped, the rest kept.
        let e = ev(
            "salt/job/1/ret/m1",
            json!({"fun": "pkg.list_pkgs", "return": big}),
        );
        let v: Value = serde_json::from_str(&raw(&e)).expect("whole JSON");
        assert_eq!(v["data"]["fun"], "pkg.list_pkgs");
        assert!(v["data"]["return"]
            .as_str()
            .unwrap()
            .starts_with("[return of"));
        // Huge without any return: the tag and a note, still JSON.
        let e = ev("salt/custom/1", json!({"blob": big}));
        let text = raw(&e);
        assert!(text.len() <= RAW_MAX);
        let v: Value = serde_json::from_str(&text).expect("whole JSON");
        assert_eq!(v["tag"], "salt/custom/1");
        assert!(v["data"].as_str().unwrap().starts_with("[event data of"));
    }

    #[test]
    fn a_nul_in_an_event_reaches_no_store() {
        let line = "tag: salt/job/1/new\ndata: {\"tag\": \"salt/job/1/new\", \"data\":                     {\"fun\": \"test.ping\", \"arg\": [\"a\\u0000b\"], \"k\\u0000\": 1}}\n\n";
        let events = SseParser::default().push(line.as_bytes());
        assert_eq!(events.len(), 1);
        let text = raw(&events[0]);
        assert!(!text.contains("\\u0000"), "{text}");
        assert!(text.contains("a\u{FFFD}b"), "{text}");
    }

    #[test]
    fn lab_sample_normalises() {
        let raw = include_str!("../../../tests/fixtures/salt/3008.4/events_sample.txt");
        let events = SseParser::default().push(raw.as_bytes());
        let mut dd = AuthDedup::default();
        let rows: Vec<ActivityEvent> = events.iter().filter_map(|e| one(e, &mut dd)).collect();
        let new = rows.iter().find(|r| r.event_type == "job.new").unwrap();
        assert_eq!(new.fun.as_deref(), Some("test.ping"));
        assert_eq!(new.initiator.as_deref(), Some("halite"));
        assert_eq!(new.target.as_deref(), Some("*"));
        assert!(new.summary.contains("4 minions"), "{}", new.summary);
        let rets: Vec<&ActivityEvent> = rows.iter().filter(|r| r.event_type == "job.ret").collect();
        assert!(!rets.is_empty());
        assert!(rets
            .iter()
            .all(|r| r.success == Some(true) && r.minion_id.is_some()));
        // publish events are dropped
        assert!(rows.iter().all(|r| r.event_type != "job.publish"));
    }

    #[test]
    fn table() {
        let mut dd = AuthDedup::default();
        let jid = "20261127084936937171";
        let st = json!({"file_|-a_|-/a_|-managed": {"result": true, "changes": {"diff": "x"}, "duration": 10.4},
                        "test_|-b_|-b_|-nop": {"result": true, "changes": {}, "duration": 1.2}});
        let r = one(
            &ev(
                &format!("salt/job/{jid}/ret/web-01"),
                json!({"id": "web-01", "fun": "state.apply", "retcode": 0, "return": st}),
            ),
            &mut dd,
        )
        .unwrap();
        assert_eq!(
            (r.success, r.changed, r.duration_ms),
            (Some(true), Some(true), Some(12))
        );
        let r = one(
            &ev(
                &format!("salt/job/{jid}/ret/web-01"),
                json!({"id": "web-01", "fun": "cmd.run", "retcode": 1, "return": "boom"}),
            ),
            &mut dd,
        )
        .unwrap();
        assert_eq!(r.success, Some(false));
        assert!(r.summary.contains("failed"));
        let r = one(&ev(&format!("salt/job/{jid}/ret/web-01"), json!({"id": "web-01", "fun": "state.apply", "retcode": 1, "return": ["Rendering SLS failed"]})), &mut dd).unwrap();
        assert_eq!(r.success, Some(false));
        // Polling noise and events Halite does not show are dropped.
        for (tag, data) in [
            (
                format!("salt/job/{jid}/new"),
                json!({"fun": "saltutil.find_job", "minions": []}),
            ),
            (
                format!("salt/job/{jid}/ret/web-01"),
                json!({"fun": "saltutil.running", "retcode": 0}),
            ),
            (
                "salt/run/20261127084936937171/new".into(),
                json!({"fun": "runner.jobs.active"}),
            ),
            (
                "salt/wheel/20261127084936937171/new".into(),
                json!({"fun": "wheel.key.list_all"}),
            ),
            ("salt/beacon/web-01/inotify".into(), json!({})),
        ] {
            assert!(one(&ev(&tag, data), &mut dd).is_none(), "{tag}");
        }
        let r = one(
            &ev("salt/minion/web-01/start", json!({"id": "web-01"})),
            &mut dd,
        )
        .unwrap();
        assert_eq!(
            (r.category, r.event_type.as_str(), r.minion_id.as_deref()),
            (EventCategory::Minion, "minion.start", Some("web-01"))
        );
        let r = one(
            &ev(
                "salt/key",
                json!({"id": "new-01", "act": "accept", "result": true}),
            ),
            &mut dd,
        )
        .unwrap();
        assert_eq!(
            (r.category, r.event_type.as_str()),
            (EventCategory::Key, "key.accept")
        );
        assert_eq!(r.summary, "new-01 key accepted");
    }

    #[test]
    fn wheel_key_actions_become_key_rows() {
        let mut dd = AuthDedup::default();
        let acc = ev(
            "salt/wheel/20261127123306421990/ret",
            json!({"fun": "wheel.key.accept", "user": "halite",
            "fun_args": ["new-01", {"include_denied": false}], "return": {"minions": ["new-01"]}, "success": true}),
        );
        let r = normalize(&acc, &mut dd);
        assert_eq!(r.len(), 1);
        assert_eq!(
            (
                r[0].event.event_type.as_str(),
                r[0].event.minion_id.as_deref(),
                r[0].event.initiator.as_deref()
            ),
            ("key.accept", Some("new-01"), Some("halite"))
        );
        let del = ev(
            "salt/wheel/20261127123306421991/ret",
            json!({"fun": "wheel.key.delete", "fun_args": ["new-01"], "return": {}, "success": true}),
        );
        assert_eq!(normalize(&del, &mut dd)[0].event.event_type, "key.delete");
        let glob = ev(
            "salt/wheel/20261127123306421992/ret",
            json!({"fun": "wheel.key.delete", "fun_args": ["web-*"], "return": {}, "success": true}),
        );
        assert!(normalize(&glob, &mut dd).is_empty());
        let list = ev(
            "salt/wheel/20261127123306421993/ret",
            json!({"fun": "wheel.key.list_all", "return": {}, "success": true}),
        );
        assert!(normalize(&list, &mut dd).is_empty());
        let rej = ev(
            "salt/wheel/20261127123306421994/ret",
            json!({"fun": "wheel.key.reject", "return": {"minions_rejected": ["a", "b"]}, "success": true}),
        );
        assert_eq!(normalize(&rej, &mut dd).len(), 2);
    }

    #[test]
    fn auth_noise_is_deduplicated() {
        let mut dd = AuthDedup::default();
        let pend = ev(
            "salt/auth",
            json!({"id": "new-01", "act": "pend", "result": true}),
        );
        assert_eq!(one(&pend, &mut dd).unwrap().event_type, "key.pend");
        for _ in 0..5 {
            assert!(one(&pend, &mut dd).is_none(), "repeats are noise");
        }
        // Accepted minions re-authenticate on every reconnect: never news.
        assert!(one(
            &ev("salt/auth", json!({"id": "web-01", "act": "accept"})),
            &mut dd
        )
        .is_none());
        // After a key delete, the minion pending again is news again.
        assert!(one(
            &ev("salt/key", json!({"id": "new-01", "act": "delete"})),
            &mut dd
        )
        .is_some());
        assert!(one(&pend, &mut dd).is_some());
    }
}
