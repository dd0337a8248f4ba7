//! Finding 10: the SQL filters translated from fnmatch grants (SQLite GLOB, Postgres regex: each
//! property runs on the test app's engine) select exactly what `rbac::fnmatch` allows, and the
//! keys list no longer rewrites `key:` grants to `minion:`.

use crate::common::TestApp;
use halite::rbac::{fnmatch, Permission};
use halite::server::db::{Db, Dialect};
use halite::server::minions::store::{allowed_globs, push_allowed};
use halite::server::sqlglob::{to_pg_regex, to_sqlite_glob};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use sqlx::QueryBuilder;

/// Pattern pieces: hostile characters, class openers, ranges with special end points, and the
/// kind prefixes so that grants hit the ids often.
const PIECES: &[&str] = &[
    "key:", "minion:", "k", "e", "y", ":", "n", "a", "b", "-", "]", "^", "!", "[", "*", "?", "\\",
    "é", "😀", "[!", "[]", "[^", "a-b", "]-a", "^-]", "!-^", "--", "z-a", "[!]", ":-k",
];
const ID_CHARS: &[char] = &[
    'a', 'b', '-', ']', '^', '!', '[', '*', '?', ':', 'k', 'e', 'y', 'n', '\\', 'é', '😀', '_',
];

fn pattern() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 0..8).prop_map(|v| v.concat())
}

fn id() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(ID_CHARS), 0..7)
        .prop_map(|v| v.into_iter().collect())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Both engines' translations of a grant, for failure messages.
fn translations(grant: &str) -> String {
    format!(
        "GLOB {:?}, regex {:?}",
        to_sqlite_glob(grant),
        to_pg_regex(grant)
    )
}

/// Whether the database of the test app (SQLite, or Postgres under `scripts/with-postgres.sh`)
/// finds that `s` matches `grant`, through that engine's own translation
/// ([`Dialect::push_grant_match`]: SQLite `GLOB`, Postgres `~`).
async fn engine_matches(db: &Db, grant: &str, s: &str) -> bool {
    halite::with_db!(db, p, DB => {
        let mut q = QueryBuilder::<DB>::new("SELECT COUNT(*) FROM (SELECT ");
        DB::push_str(&mut q, s.to_string());
        q.push(" AS v) x WHERE ");
        DB::push_grant_match(&mut q, "x.v", grant);
        let n: i64 = q.build_query_scalar().fetch_one(p).await.unwrap();
        n == 1
    })
}

/// Whether the store filter (`push_allowed` over `'<kind>:' || id`) keeps `id` for a user
/// holding only `view:<grant>`, on the test app's engine.
async fn store_allows(db: &Db, kind: &str, grant: &str, id: &str) -> bool {
    let globs = allowed_globs(&[Permission::new("view", grant)], "view", kind);
    let expr = match kind {
        "key" => "('key:' || x.id)",
        "minion" => "('minion:' || x.id)",
        _ => "('job:' || x.id)",
    };
    halite::with_db!(db, p, DB => {
        let mut q = QueryBuilder::<DB>::new("SELECT COUNT(*) FROM (SELECT ");
        DB::push_str(&mut q, id.to_string());
        q.push(" AS id) x WHERE 1 = 1");
        push_allowed(&mut q, expr, &globs);
        let n: i64 = q.build_query_scalar().fetch_one(p).await.unwrap();
        n == 1
    })
}

/// Run `check` on 4000 generated (pattern, id) cases against one test app's database.
fn property(
    check: impl Fn(&tokio::runtime::Runtime, &Db, &str, &str) -> Result<(), TestCaseError>,
) {
    let rt = runtime();
    let app = rt.block_on(TestApp::new());
    let mut runner = TestRunner::new(Config {
        cases: 4000,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&(pattern(), id()), |(p, s)| {
        check(&rt, &app.state.db, &p, &s)
    });
    rt.block_on(app.state.db.close());
    if let Err(e) = result {
        panic!("on {}: {e}", app.state.db.engine().name());
    }
}

/// The engine's translation of a grant (SQLite GLOB, or the Postgres regex under
/// `scripts/with-postgres.sh`) agrees with fnmatch on any string.
#[test]
fn translation_agrees_with_fnmatch() {
    property(|rt, db, p, s| {
        let want = fnmatch(p, s);
        let got = rt.block_on(engine_matches(db, p, s));
        prop_assert_eq!(
            got,
            want,
            "pattern {:?} ({}), string {:?}",
            p,
            translations(p),
            s
        );
        Ok(())
    });
}

/// The whole store filter, per kind, agrees with `rbac::fnmatch(grant, "<kind>:<id>")`.
#[test]
fn store_filter_agrees_with_fnmatch() {
    property(|rt, db, p, i| {
        for kind in ["key", "minion", "job"] {
            let want = fnmatch(p, &format!("{kind}:{i}"));
            let got = rt.block_on(store_allows(db, kind, p, i));
            prop_assert_eq!(
                got,
                want,
                "kind {} grant {:?} ({}) id {:?} globs {:?}",
                kind,
                p,
                translations(p),
                i,
                allowed_globs(&[Permission::new("view", p)], "view", kind)
            );
        }
        Ok(())
    });
}

/// Hand-picked cases where the old `[!` -> `[^` rewrite and the kind filter went wrong.
#[tokio::test]
async fn known_dialect_differences() {
    let app = TestApp::new().await;
    let db = &app.state.db;
    let cases: &[(&str, &str)] = &[
        ("key:[^a]", "^"),  // literal ^ member in fnmatch, negation in SQLite
        ("key:[^a]", "b"),  // ... so b must not match
        ("key:a[", "a["),   // unclosed [ is literal
        ("key:[]a]", "]"),  // ] first is a member
        ("key:[!]]", "x"),  // negated ]
        ("key:[a-]", "-"),  // trailing - is a member
        ("key:[]-a]", "^"), // range from ]
        ("k?y:web", "web"), // starts with neither the kind nor a wildcard
        ("[k]ey:web", "web"),
        ("key:*", "x"),
    ];
    for (grant, id) in cases {
        let want = fnmatch(grant, &format!("key:{id}"));
        assert_eq!(
            store_allows(db, "key", grant, id).await,
            want,
            "grant {grant:?} ({}) id {id:?}",
            translations(grant)
        );
        assert_eq!(
            engine_matches(db, grant, &format!("key:{id}")).await,
            want,
            "grant {grant:?} ({}) id {id:?}",
            translations(grant)
        );
    }
}

/// A user holding `view:key:db-1` and `view:*n:web-*` (which fnmatch reads as "anything
/// containing `n:web-` after its first character": `minion:web-1`, not `key:web-1`) sees only
/// the db-1 key. The old code rewrote the key filter to `minion:<id>`, so `*n:web-*` leaked the
/// web keys.
#[tokio::test]
async fn keys_list_does_not_rewrite_key_grants_to_minion() {
    let app = TestApp::new().await;
    for (id, status) in [
        ("web-1", "accepted"),
        ("db-1", "accepted"),
        ("db-2", "pending"),
    ] {
        halite::with_db!(&app.state.db, p => {
        sqlx::query("INSERT INTO minion_snapshots (minion_id, key_status) VALUES ($1, $2)")
                    .bind(id)
                    .bind(status)
                    .execute(p)
                    .await
                    .unwrap();
        });
    }
    app.create_role("webkeys", &[("view", "key:db-1"), ("view", "*n:web-*")])
        .await;
    app.create_user("wk", "correct horse battery", &["webkeys"])
        .await;
    let cookie = app.login("wk", "correct horse battery").await;
    let r = app.call("keys/list", &[], Some(&cookie)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    let ids: Vec<String> = ["pending", "accepted", "rejected", "denied"]
        .iter()
        .flat_map(|k| v[k].as_array().cloned().unwrap_or_default())
        .map(|row| row["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, vec!["db-1".to_string()], "{}", r.body);

    // The overview's key counts are filtered the same way.
    let r = app.call("overview/summary", &[], Some(&cookie)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let k = &r.json()["keys"];
    assert_eq!(k["accepted"], 1, "{}", r.body);
    assert_eq!(k["pending"], 0, "{}", r.body);
}
