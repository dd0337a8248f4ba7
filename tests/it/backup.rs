//! `halite admin backup FILE` through the real binary, while a Halite holds the database open:
//! the copy restores (a new data directory started on it) with its users and settings.

use crate::common::TestApp;

#[tokio::test]
async fn an_online_backup_restores_and_starts() {
    // SQLite on purpose (the Postgres pass too): Postgres backups are pg_dump's job.
    let live = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/halite.db?mode=rwc", live.path().display());
    let app = TestApp::with_env(&[("DATABASE_URL", &url)]).await;
    app.create_user("backed-up", "backed-up-password-1", &["viewer"])
        .await;
    let out_dir = tempfile::tempdir().unwrap();
    let file = out_dir.path().join("halite-backup.db");
    let run = |file: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_halite"))
            .args(["admin", "backup"])
            .arg(file)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HALITE_DATA_DIR", live.path())
            .env("DATABASE_URL", &url)
            .output()
            .unwrap()
    };
    let out = run(&file);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("backed up to"));
    // Never over an existing file.
    let again = run(&file);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists"));

    // Restore: a new data directory whose database is the copy; Halite starts on it.
    let restored = tempfile::tempdir().unwrap();
    std::fs::copy(&file, restored.path().join("halite.db")).unwrap();
    let url2 = format!("sqlite://{}/halite.db?mode=rwc", restored.path().display());
    let back = TestApp::with_env(&[("DATABASE_URL", &url2)]).await;
    let cookie = back.login("backed-up", "backed-up-password-1").await;
    assert!(cookie.starts_with("halite_session="));
    assert_eq!(
        back.get("/readyz", None).await.json()["migrations"]["state"],
        "ok"
    );
}
