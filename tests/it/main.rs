//! Halite's integration tests, all in one test binary (`cargo test --features ssr --test it`):
//! each file here is a module, so the halite library and its dependencies are linked once
//! instead of once per file. `cargo test --features ssr --test it admin_users::` runs one file.
//!
//! They need the server build: without `ssr` this binary is empty. The modules marked `lab`
//! talk to the real Salt lab (end2end/salt-lab) and build only with the `lab` feature; so do the
//! lab tests inside `salt_runtime` and `security_run`. Every test that talks to the lab holds
//! [`common::lab::LAB`] for its whole run.
#![cfg(feature = "ssr")]

mod common;

#[cfg(feature = "lab")]
mod activity_live;
mod admin_roles;

mod admin_users;
mod assets;
mod audit_log;
mod auth_http;
mod backup;
mod cluster;
mod db_schema;
mod diagnostics;
mod error_pipeline;
mod exports;
#[cfg(feature = "lab")]
mod fleet_live;
mod fleet_store;
#[cfg(feature = "lab")]
mod inventory_live;
mod inventory_store;
mod inventory_versions;
#[cfg(feature = "lab")]
mod jobs_live;
mod metrics;
#[cfg(feature = "lab")]
mod minions_live;
mod minions_store;
mod palette;
mod probes;
mod salt_fixtures;
#[cfg(feature = "lab")]
mod salt_live;
mod salt_runtime;
mod security_audit;
mod security_denials;
mod security_glob;
mod security_http;
#[cfg(feature = "lab")]
mod security_keys;
mod security_redaction;
mod security_run;
mod security_stream;
mod shutdown;
mod sim_shapes;
mod templates_store;
mod timeline_store;
