//! Finding 10: the SQL GLOB filters translated from fnmatch grants select exactly what
//! `rbac::fnmatch` allows, and the keys list no longer rewrites `key:` grants to `minion:`.

use crate::common::TestApp;
use halite::rbac::{fnmatch, Permission};
use halite::server::minions::store::{allowed_globs, push_allowed};
use halite::server::sqlglob::to_sqlite_glob;
use proptest::prelude::*;
use sqlx::sqlite::SqlitePoolOptions;
use sqlx::{QueryBuilder, Sqlite, SqlitePool};

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

async fn pool() -> SqlitePool {
    let db = SqlitePoolOptions::new()
        .max_connections(1)
        .connect("sqlite::memory:")
        .await
        .unwrap();
    sqlx::query("CREATE TABLE t (id TEXT NOT NULL)")
        .execute(&db)
        .await
        .unwrap();
    db
}

/// Whether the store filter (`push_allowed` over `'<kind>:' || id`) keeps `id` for a user
/// holding only `view:<grant>`.
async fn store_allows(db: &SqlitePool, kind: &str, grant: &str, id: &str) -> bool {
    let globs = allowed_globs(&[Permission::new("view", grant)], "view", kind);
    sqlx::query("DELETE FROM t").execute(db).await.unwrap();
    sqlx::query("INSERT INTO t (id) VALUES (?)")
        .bind(id)
        .execute(db)
        .await
        .unwrap();
    let expr = match kind {
        "key" => "('key:' || id)",
        "minion" => "('minion:' || id)",
        _ => "('job:' || id)",
    };
    let mut q: QueryBuilder<Sqlite> = QueryBuilder::new("SELECT count(*) FROM t WHERE 1 = 1");
    push_allowed(&mut q, expr, &globs);
    let n: i64 = q.build_query_scalar().fetch_one(db).await.unwrap();
    n == 1
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, failure_persistence: None, ..ProptestConfig::default() })]

    /// The translated pattern under SQLite GLOB agrees with fnmatch on any string.
    #[test]
    fn translation_agrees_with_fnmatch(p in pattern(), s in id()) {
        let rt = runtime();
        let db = rt.block_on(pool());
        let want = fnmatch(&p, &s);
        let got = match to_sqlite_glob(&p) {
            None => false,
            Some(g) => rt.block_on(async {
                sqlx::query_scalar::<_, bool>("SELECT ? GLOB ?")
                    .bind(&s)
                    .bind(&g)
                    .fetch_one(&db)
                    .await
                    .unwrap()
            }),
        };
        prop_assert_eq!(got, want, "pattern {:?} -> {:?}, string {:?}", p, to_sqlite_glob(&p), s);
    }

    /// The whole store filter, per kind, agrees with `rbac::fnmatch(grant, "<kind>:<id>")`.
    #[test]
    fn store_filter_agrees_with_fnmatch(p in pattern(), i in id()) {
        let rt = runtime();
        let db = rt.block_on(pool());
        for kind in ["key", "minion", "job"] {
            let want = fnmatch(&p, &format!("{kind}:{i}"));
            let got = rt.block_on(store_allows(&db, kind, &p, &i));
            prop_assert_eq!(got, want, "kind {} grant {:?} id {:?} globs {:?}", kind, p, i,
                allowed_globs(&[Permission::new("view", &p)], "view", kind));
        }
    }
}

/// Hand-picked cases where the old `[!` -> `[^` rewrite and the kind filter went wrong.
#[tokio::test]
async fn known_dialect_differences() {
    let db = pool().await;
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
            store_allows(&db, "key", grant, id).await,
            want,
            "grant {grant:?} id {id:?}"
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
