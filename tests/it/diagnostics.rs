//! Diagnostics against the real Salt lab: a good master passes, and each misconfiguration the
//! issue names gets its verdict and its fix: a wrong password, a master without `wheel` in
//! `netapi_enable_clients` (a second salt-api, `lab.sh start-api-nowheel`), salt-api stopped.
//! The same checks through the real binary: `halite admin check [--json]` and its exit code.
//! The RBAC test needs no Salt.

#[cfg(feature = "lab")]
use crate::common::lab::{lab, LAB};
use crate::common::TestApp;
#[cfg(feature = "lab")]
use halite::model::diagnostics::{Report, Verdict};

#[cfg(feature = "lab")]
async fn save(app: &TestApp, url: &str, user: &str, password: &str, eauth: &str) {
    let s =
        halite::server::settings::validate_salt(url, user, password, eauth, true, true).unwrap();
    halite::server::settings::save_salt(&app.state.db, &app.state.secrets, &s)
        .await
        .unwrap();
}

#[cfg(feature = "lab")]
async fn check(app: &TestApp) -> Report {
    halite::server::diagnostics::run(
        &app.state.db,
        &app.state.secrets,
        Some(app.state.runtime.as_ref()),
        "test",
    )
    .await
}

#[cfg(feature = "lab")]
fn verdict(r: &Report, id: &str) -> (Verdict, String, String) {
    let c = r
        .checks
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no check {id}:\n{}", r.to_text()));
    (
        c.verdict,
        c.measured.clone(),
        c.fix.clone().unwrap_or_default(),
    )
}

/// `halite admin check [--json]` on `app`'s database: exit code and output.
#[cfg(feature = "lab")]
fn cli(app: &TestApp, json: bool) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_halite"));
    cmd.args(["admin", "check"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HALITE_DATA_DIR", dir.path())
        .env("DATABASE_URL", &app.state.config.database_url)
        .env("COOKIE_SECRET", &app.state.config.cookie_secret);
    if json {
        cmd.arg("--json");
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[cfg(feature = "lab")]
#[tokio::test]
async fn diagnostics_pass_on_the_lab_and_name_the_fix_for_each_misconfiguration() {
    let _serial = LAB.lock().await;
    let l = lab();
    let app = TestApp::new().await;

    // A good master: every Salt check passes.
    save(&app, &l.url, &l.user, &l.password, &l.eauth).await;
    let r = check(&app).await;
    for id in [
        "salt.configured",
        "salt_api.reachable",
        "salt_api.login",
        "salt.clock",
        "salt.version",
        "netapi.clients",
        "eauth.rights",
        "salt_api.events",
        "database",
    ] {
        assert_eq!(verdict(&r, id).0, Verdict::Pass, "{id}:\n{}", r.to_text());
    }
    assert_eq!(r.worst(), Verdict::Pass, "{}", r.to_text());
    assert!(verdict(&r, "salt_api.login").1.contains("tokens last 12 h"));
    let v = std::env::var("SALT_LAB_VERSION").unwrap_or_default();
    if !v.is_empty() {
        assert!(
            verdict(&r, "salt.version").1.contains(&v),
            "{}",
            r.to_text()
        );
    }
    // The CLI agrees, exit 0, JSON for scripts.
    let (code, out) = cli(&app, true);
    assert_eq!(code, 0, "{out}");
    let json: serde_json::Value = serde_json::from_str(&out).expect("--json prints JSON");
    assert!(json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["verdict"] != "fail"));
    // Without a runtime the CLI cannot see the pollers: skipped, with where to look.
    assert!(json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["id"] == "pollers" && c["verdict"] == "skip"));

    // A wrong password: the login fails with the external_auth block to paste, the checks
    // that need a login are skipped, and the CLI exits 1 with the text report.
    save(&app, &l.url, &l.user, "wrong-password", &l.eauth).await;
    let r = check(&app).await;
    let (v, measured, fix) = verdict(&r, "salt_api.login");
    assert_eq!(v, Verdict::Fail, "{}", r.to_text());
    assert!(measured.contains("401"), "{measured}");
    assert!(
        fix.contains("external_auth:\n  file:\n    halite:"),
        "{fix}"
    );
    assert_eq!(verdict(&r, "netapi.clients").0, Verdict::Skip);
    assert!(
        !r.to_text().contains("wrong-password"),
        "the password never shows"
    );
    let (code, out) = cli(&app, false);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("[FAIL] Login and token (salt_api.login)"),
        "{out}"
    );
    assert!(!out.contains("wrong-password"), "{out}");

    // A master without wheel in netapi_enable_clients.
    let out = std::process::Command::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/end2end/salt-lab/lab.sh"
    ))
    .arg("start-api-nowheel")
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let nowheel = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_string();
    save(&app, &nowheel, &l.user, &l.password, &l.eauth).await;
    let r = check(&app).await;
    let (v, measured, fix) = verdict(&r, "netapi.clients");
    assert_eq!(v, Verdict::Fail, "{}", r.to_text());
    assert_eq!(
        measured,
        "enabled: local, local_async, local_batch, runner; disabled: wheel",
        "{}",
        r.to_text()
    );
    assert!(fix.contains("netapi_enable_clients:\n  - local\n"), "{fix}");
    assert!(fix.contains("  - wheel\n"), "{fix}");
    assert_eq!(verdict(&r, "salt_api.login").0, Verdict::Pass);
    let (code, out) = cli(&app, false);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("disabled: wheel"), "{out}");

    // salt-api stopped: unreachable, with the fix; everything after it skipped.
    l.sh(&["stop-api-nowheel"]);
    let r = check(&app).await;
    let (v, measured, fix) = verdict(&r, "salt_api.reachable");
    assert_eq!(v, Verdict::Fail, "{}", r.to_text());
    assert!(measured.contains("unreachable"), "{measured}");
    assert!(fix.contains("rest_cherrypy:"), "{fix}");
    assert!(fix.contains(&nowheel), "the fix names the URL: {fix}");
    assert_eq!(verdict(&r, "salt_api.login").0, Verdict::Skip);
    assert_eq!(verdict(&r, "database").0, Verdict::Pass);
    let (code, out) = cli(&app, true);
    assert_eq!(code, 1, "{out}");
}

#[tokio::test]
async fn only_settings_editors_may_run_diagnostics() {
    let app = TestApp::new().await;
    app.create_user("viewer-diag", "viewer-diag-password-1", &["viewer"])
        .await;
    let cookie = app.login("viewer-diag", "viewer-diag-password-1").await;
    let r = app.call("diagnostics/run", &[], Some(&cookie)).await;
    assert_eq!(r.status.as_u16(), 403, "{}", r.body);
    let r = app.call("diagnostics/run", &[], None).await;
    assert_eq!(r.status.as_u16(), 401, "{}", r.body);
    let admin = app.login_bootstrap_admin().await;
    let r = app.call("diagnostics/run", &[], Some(&admin)).await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.body);
    let checks = r.json()["checks"].as_array().unwrap().clone();
    assert_eq!(checks[0]["id"], "salt.configured");
    assert_eq!(checks[0]["verdict"], "fail", "no Salt configured here");
    assert!(checks
        .iter()
        .any(|c| c["id"] == "database" && c["verdict"] == "pass"));
}
