//! Pure reconcile logic: from Salt's replies and what the database holds, compute what to write.
//! No database, no network: unit-tested directly.

use crate::model::keys::KeyState;
use crate::salt::KeyLists;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// Rows to write after a keys poll.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct KeyDiff {
    /// New minions (id, key state).
    pub insert: Vec<(String, KeyState)>,
    /// Known minions whose key state changed.
    pub update: Vec<(String, KeyState)>,
    /// Minions whose key is gone from the master.
    pub delete: Vec<String>,
}

impl KeyDiff {
    /// Nothing to write?
    pub fn is_empty(&self) -> bool {
        self.insert.is_empty() && self.update.is_empty() && self.delete.is_empty()
    }
}

/// Flatten `key.list_all` into id -> state. A key listed in two states keeps the first of
/// accepted, pending, rejected, denied (a master mid-accept can list both).
pub fn key_states(lists: &KeyLists) -> BTreeMap<String, KeyState> {
    let mut out = BTreeMap::new();
    for (state, ids) in [
        (KeyState::Denied, &lists.denied),
        (KeyState::Rejected, &lists.rejected),
        (KeyState::Pending, &lists.pending),
        (KeyState::Accepted, &lists.accepted),
    ] {
        for id in ids {
            out.insert(id.clone(), state);
        }
    }
    out
}

/// Compare the master's keys with the stored key states.
pub fn reconcile_keys(existing: &HashMap<String, KeyState>, lists: &KeyLists) -> KeyDiff {
    let wanted = key_states(lists);
    let mut diff = KeyDiff::default();
    for (id, &state) in &wanted {
        match existing.get(id) {
            None => diff.insert.push((id.clone(), state)),
            Some(&old) if old != state => diff.update.push((id.clone(), state)),
            Some(_) => {}
        }
    }
    let mut gone: Vec<String> = existing
        .keys()
        .filter(|id| !wanted.contains_key(*id))
        .cloned()
        .collect();
    gone.sort();
    diff.delete = gone;
    diff
}

/// A presence change for one minion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceChange {
    pub id: String,
    pub online: bool,
    pub ip: Option<String>,
}

/// Stored presence of one minion: (key state, online, ip).
pub type StoredPresence = (KeyState, bool, Option<String>);

/// Which rows change after `manage.present show_ip=true`. Only accepted keys can be online;
/// an offline minion keeps its last known IP.
pub fn reconcile_presence(
    existing: &HashMap<String, StoredPresence>,
    present: &BTreeMap<String, String>,
) -> Vec<PresenceChange> {
    let mut out = vec![];
    for (id, (key_state, online, ip)) in existing {
        let seen = present.get(id);
        let now_online = *key_state == KeyState::Accepted && seen.is_some();
        let new_ip = match seen {
            Some(s) if !s.is_empty() => Some(s.clone()),
            _ => ip.clone(),
        };
        if now_online != *online || new_ip != *ip {
            out.push(PresenceChange {
                id: id.clone(),
                online: now_online,
                ip: new_ip,
            });
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// The denormalised grain columns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GrainFacts {
    pub os: Option<String>,
    pub os_family: Option<String>,
    pub osrelease: Option<String>,
    pub kernel: Option<String>,
    pub kernelrelease: Option<String>,
    pub virtual_type: Option<String>,
    pub num_cpus: Option<i64>,
    pub mem_total_mb: Option<i64>,
    pub saltversion: Option<String>,
    pub cpu_model: Option<String>,
}

fn text(g: &Value, k: &str) -> Option<String> {
    match g.get(k)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Pull the columns the list pages show out of a minion's grains.
pub fn grain_facts(g: &Value) -> GrainFacts {
    GrainFacts {
        os: text(g, "os"),
        os_family: text(g, "os_family"),
        osrelease: text(g, "osrelease"),
        kernel: text(g, "kernel"),
        kernelrelease: text(g, "kernelrelease"),
        virtual_type: text(g, "virtual"),
        num_cpus: g.get("num_cpus").and_then(Value::as_i64),
        mem_total_mb: g.get("mem_total").and_then(Value::as_i64),
        saltversion: text(g, "saltversion"),
        cpu_model: text(g, "cpu_model"),
    }
}

/// Stable fingerprint of a grains document (serde_json keeps map keys sorted).
pub fn grains_hash(g: &Value) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    g.to_string().hash(&mut h);
    format!("{:016x}", h.finish())
}

/// One grains row to write.
#[derive(Debug, Clone, PartialEq)]
pub struct GrainsUpdate {
    pub id: String,
    pub facts: GrainFacts,
    pub grains_json: String,
    pub hash: String,
}

/// Rows whose grains changed (by hash), for minions we know. Unknown ids are ignored: the
/// keys poller decides which minions exist.
pub fn reconcile_grains(
    existing_hashes: &HashMap<String, Option<String>>,
    grains: &serde_json::Map<String, Value>,
) -> Vec<GrainsUpdate> {
    let mut out = vec![];
    for (id, g) in grains {
        let Some(old) = existing_hashes.get(id) else {
            continue;
        };
        if !g.is_object() {
            continue;
        }
        let hash = grains_hash(g);
        if old.as_deref() != Some(hash.as_str()) {
            out.push(GrainsUpdate {
                id: id.clone(),
                facts: grain_facts(g),
                grains_json: g.to_string(),
                hash,
            });
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// The grain keys the list pages need, read without materialising the rest.
#[derive(serde::Deserialize, Default)]
struct FactsDoc {
    os: Option<Value>,
    os_family: Option<Value>,
    osrelease: Option<Value>,
    kernel: Option<Value>,
    kernelrelease: Option<Value>,
    #[serde(rename = "virtual")]
    virtual_type: Option<Value>,
    num_cpus: Option<Value>,
    mem_total: Option<Value>,
    saltversion: Option<Value>,
    cpu_model: Option<Value>,
}

fn raw_hash(s: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    s.hash(&mut h);
    format!("{:016x}", h.finish())
}

/// [`reconcile_grains`] over raw per-minion JSON (the 10k-minion path: no fleet-wide tree).
pub fn reconcile_grains_raw(
    existing_hashes: &HashMap<String, Option<String>>,
    grains: &[(String, Box<serde_json::value::RawValue>)],
) -> Vec<GrainsUpdate> {
    let mut out = vec![];
    for (id, raw) in grains {
        let Some(old) = existing_hashes.get(id) else {
            continue;
        };
        let text = raw.get();
        if !text.trim_start().starts_with('{') {
            continue;
        }
        let hash = raw_hash(text);
        if old.as_deref() == Some(hash.as_str()) {
            continue;
        }
        let d: FactsDoc = serde_json::from_str(text).unwrap_or_default();
        let mut doc = serde_json::Map::new();
        for (k, v) in [
            ("os", d.os),
            ("os_family", d.os_family),
            ("osrelease", d.osrelease),
            ("kernel", d.kernel),
            ("kernelrelease", d.kernelrelease),
            ("virtual", d.virtual_type),
            ("num_cpus", d.num_cpus),
            ("mem_total", d.mem_total),
            ("saltversion", d.saltversion),
            ("cpu_model", d.cpu_model),
        ] {
            if let Some(v) = v {
                doc.insert(k.to_string(), v);
            }
        }
        out.push(GrainsUpdate {
            id: id.clone(),
            facts: grain_facts(&Value::Object(doc)),
            grains_json: text.to_string(),
            hash,
        });
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lists(acc: &[&str], pend: &[&str], rej: &[&str], den: &[&str]) -> KeyLists {
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect();
        KeyLists {
            accepted: v(acc),
            pending: v(pend),
            rejected: v(rej),
            denied: v(den),
        }
    }

    #[test]
    fn keys_new_changed_vanished_and_moved() {
        let existing: HashMap<String, KeyState> = [
            ("web-01", KeyState::Accepted),
            ("web-02", KeyState::Pending),
            ("old-01", KeyState::Accepted),
            ("db-01", KeyState::Accepted),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), *b))
        .collect();
        let d = reconcile_keys(
            &existing,
            &lists(&["web-01", "web-02", "db-01"], &["new-01"], &[], &[]),
        );
        assert_eq!(d.insert, vec![("new-01".into(), KeyState::Pending)]);
        assert_eq!(
            d.update,
            vec![("web-02".into(), KeyState::Accepted)],
            "key moved pending -> accepted"
        );
        assert_eq!(d.delete, vec!["old-01".to_string()], "vanished key deleted");
        // Moved to rejected.
        let d = reconcile_keys(
            &existing,
            &lists(&["web-01", "old-01"], &["web-02"], &["db-01"], &[]),
        );
        assert_eq!(d.update, vec![("db-01".into(), KeyState::Rejected)]);
        assert!(d.insert.is_empty() && d.delete.is_empty());
        // Unchanged -> empty diff.
        let d = reconcile_keys(
            &existing,
            &lists(&["web-01", "old-01", "db-01"], &["web-02"], &[], &[]),
        );
        assert!(d.is_empty());
        // Listed twice: accepted wins.
        assert_eq!(
            key_states(&lists(&["x"], &["x"], &[], &[]))["x"],
            KeyState::Accepted
        );
    }

    #[test]
    fn presence_only_for_accepted_and_keeps_last_ip() {
        let existing: HashMap<String, StoredPresence> = [
            ("a", (KeyState::Accepted, false, None)),
            ("b", (KeyState::Accepted, true, Some("10.0.0.2"))),
            ("p", (KeyState::Pending, false, None)),
            ("c", (KeyState::Accepted, true, Some("10.0.0.3"))),
        ]
        .into_iter()
        .map(|(id, (k, o, ip))| (id.to_string(), (k, o, ip.map(String::from))))
        .collect();
        let present: BTreeMap<String, String> =
            [("a", "10.0.0.1"), ("p", "10.0.0.9"), ("c", "10.0.0.3")]
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect();
        let ch = reconcile_presence(&existing, &present);
        assert_eq!(
            ch,
            vec![
                PresenceChange {
                    id: "a".into(),
                    online: true,
                    ip: Some("10.0.0.1".into())
                },
                PresenceChange {
                    id: "b".into(),
                    online: false,
                    ip: Some("10.0.0.2".into())
                },
                PresenceChange {
                    id: "p".into(),
                    online: false,
                    ip: Some("10.0.0.9".into())
                },
            ]
        );
    }

    #[test]
    fn grains_facts_and_changes() {
        let g = json!({"os": "Debian", "os_family": "Debian", "osrelease": "12", "kernel": "Linux",
            "kernelrelease": "6.1.0", "virtual": "kvm", "num_cpus": 4, "mem_total": 7961,
            "saltversion": "3008.4", "cpu_model": "AMD EPYC"});
        let f = grain_facts(&g);
        assert_eq!(f.os.as_deref(), Some("Debian"));
        assert_eq!(f.num_cpus, Some(4));
        assert_eq!(f.mem_total_mb, Some(7961));
        assert_eq!(f.virtual_type.as_deref(), Some("kvm"));
        let mut grains = serde_json::Map::new();
        grains.insert("m1".into(), g.clone());
        grains.insert("unknown".into(), g.clone());
        grains.insert("m2".into(), json!("not an object"));
        let mut existing: HashMap<String, Option<String>> = HashMap::new();
        existing.insert("m1".into(), None);
        existing.insert("m2".into(), None);
        let up = reconcile_grains(&existing, &grains);
        assert_eq!(up.len(), 1);
        assert_eq!(up[0].id, "m1");
        existing.insert("m1".into(), Some(up[0].hash.clone()));
        assert!(
            reconcile_grains(&existing, &grains).is_empty(),
            "unchanged grains are not rewritten"
        );
    }
}
