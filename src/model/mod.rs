//! The vocabulary both builds share: the types server functions send and receive, the values
//! the server's stores and pollers produce, and the small pure helpers over them (validation,
//! formatting). Nothing here knows about pages, the database or Salt; `app`, `server` and `salt`
//! all import it, and it imports only `error`.

pub mod activity;
pub mod jobs;
pub mod keys;
pub mod list;
pub mod minions;
pub mod overview;
pub mod run;
pub mod settings;
pub mod templates;
pub mod time;
pub mod timeline;
