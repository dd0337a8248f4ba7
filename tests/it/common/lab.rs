//! The real Salt lab (end2end/salt-lab): connection values from `lab.sh env`.
#![allow(dead_code)]

use halite::salt::{SaltClient, SaltConfig};
use std::time::Duration;

/// Held for its whole run by every test that talks to the lab (and by the few that must not
/// overlap one that does). There is one lab and one test binary: tests that restart salt-api,
/// reset, accept or delete keys or run jobs on its minions would otherwise meet each other,
/// which they never did when each file was its own binary and the binaries ran one at a time.
pub static LAB: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub struct Lab {
    pub url: String,
    pub user: String,
    pub password: String,
    pub eauth: String,
}

/// The running lab; fails loudly when it is not running (`make test` starts it).
pub fn lab() -> Lab {
    let get = |k: &str| {
        std::env::var(k).unwrap_or_else(|_| {
            panic!(
                "{k} is not set: these tests talk to the real Salt lab. Run `make test`, or \
                 `end2end/salt-lab/lab.sh start && eval \"$(end2end/salt-lab/lab.sh env)\"` first."
            )
        })
    };
    Lab {
        url: get("SALT_API_URL"),
        user: get("SALT_API_USER"),
        password: get("SALT_API_PASSWORD"),
        eauth: get("SALT_API_EAUTH"),
    }
}

impl Lab {
    pub fn config(&self) -> SaltConfig {
        SaltConfig {
            url: self.url.clone(),
            username: self.user.clone(),
            password: self.password.clone().into(),
            eauth: self.eauth.clone(),
            verify_tls: true,
            timeout: Duration::from_secs(30),
        }
    }

    pub fn client(&self) -> SaltClient {
        SaltClient::new(self.config()).unwrap()
    }

    /// Save this lab as `app`'s Salt connection (as the Settings page would; not booted).
    pub async fn save_to(&self, app: &super::TestApp) {
        let good = halite::server::settings::validate_salt(
            &self.url,
            &self.user,
            &self.password,
            &self.eauth,
            true,
            true,
        )
        .unwrap();
        halite::server::settings::save_salt(&app.state.db, &app.state.secrets, &good)
            .await
            .unwrap();
    }

    /// Run a lab.sh subcommand (stop-api, start-api, reset-keys, ...).
    pub fn sh(&self, args: &[&str]) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/end2end/salt-lab/lab.sh");
        let out = std::process::Command::new(script)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "lab.sh {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
