//! Taccuino's server: REST API, authentication, persistence and (later) the sync endpoint.
//!
//! [`app::Application`] builds a bound server from a [`config::Config`]; `main.rs` is a thin CLI.

pub mod app;
pub mod auth;
pub mod config;
pub mod db;
pub mod demo;
pub mod domain;
pub mod error;
pub mod findings;
pub mod http;
pub mod mail;
pub mod openapi;
pub mod state;
pub mod sync;
