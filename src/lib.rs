//! beefirst: a trust state machine for identity claims.
//!
//! A person claims an email with a password (`POST /register`), receives a verification code by
//! mail, and activates with Basic Auth plus the code within the window (`POST /activate`).
//!
//! Layers: [`http`] (tiny_http adapter) → [`service`] (use cases) → [`domain`] (pure rules),
//! [`store`] (all SQL) and [`mail`] (mailer port and adapters).

pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod log;
pub mod mail;
pub mod reaper;
pub mod service;
pub mod store;

use config::Config;
use serde_json::json;
use service::AppState;
use std::sync::Arc;

/// Starts the service and blocks while it runs: connects to PostgreSQL (with bounded retries),
/// applies the schema, binds, prints the `listening` line first on stdout, then serves.
///
/// Errors: a one-line reason for the operator (database unreachable, bind failed, ...).
pub fn run(config: Config) -> Result<(), String> {
    let pool = store::connect(&config)?;
    let state = AppState::new(config, pool).map_err(|e| format!("start-up failed: {e}"))?;
    let server = tiny_http::Server::http(state.config.bind_addr)
        .map_err(|e| format!("cannot bind {}: {e}", state.config.bind_addr))?;
    let addr = server
        .server_addr()
        .to_ip()
        .ok_or("bound to a non-IP address")?;
    log::info("listening", json!({"addr": addr.to_string()}));

    reaper::spawn(state.pool.clone(), state.config.reaper_interval)
        .map_err(|e| format!("cannot start the reaper: {e}"))?;
    let workers = http::spawn_workers(Arc::new(server), Arc::new(state));
    for worker in workers {
        let _ = worker.join();
    }
    Ok(())
}
