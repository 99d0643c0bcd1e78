//! Black-box stories against the real server, each on SQLite and on PostgreSQL.
//!
//! One test binary for the whole suite keeps build times down; each module is one theme.

mod app_shell;
mod auth;
mod browser;
mod care_plans;
mod documentation;
mod errors;
mod interop;
mod mail;
mod matrix;
mod ratelimit;
mod review;
mod statements;
mod stories;
mod sync;
mod sync_bad_input;
mod sync_crash;
