//! beefirst: a trust state machine for identity claims.
//!
//! A person claims an email with a password (`POST /register`), receives a verification code by
//! mail, and activates with Basic Auth plus the code within the window (`POST /activate`).
//!
//! Layers: [`http`] (tiny_http adapter) → [`service`] (use cases) → [`domain`] (pure rules),
//! [`store`] (all SQL), [`mail`] (mailer port and adapters) and [`hashing`] (bcrypt, at idle
//! priority).

pub mod audit;
pub mod client;
pub mod config;
pub mod domain;
pub mod error;
pub mod hashing;
pub mod http;
pub mod jwt;
pub mod log;
pub mod mail;
pub mod outbox;
pub mod reaper;
pub mod sealing;
pub mod service;
pub mod store;

use config::Config;
use serde_json::json;
use service::AppState;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

/// Starts the service and blocks while it runs: connects to PostgreSQL (with bounded retries),
/// applies the schema, binds, prints the `listening` line first on stdout, then serves until
/// SIGTERM/SIGINT (returns `Ok`, exit code 0).
///
/// Errors: a one-line reason for the operator (database unreachable, bind failed, listener lost).
pub fn run(config: Config) -> Result<(), String> {
    http::listener::exit_if_accepting_dies();
    http::listener::raise_open_files_limit();
    let pool = store::connect(&config)?;
    let state = AppState::new(config, pool).map_err(|e| format!("start-up failed: {e}"))?;
    // The signing key is listed before the first token it signs can be presented anywhere.
    service::tokens::maintain_keys(&state)
        .map_err(|e| format!("cannot list the signing key: {e}"))?;
    let state = Arc::new(state);
    let server = http::listener::bind(state.config.bind_addr)?;
    let addr = server.server_addr().to_ip().ok_or("bound to a non-IP address")?;
    reaper::spawn(Arc::clone(&state)).map_err(|e| format!("cannot start the reaper: {e}"))?;
    outbox::spawn(Arc::clone(&state)).map_err(|e| format!("cannot start the mail sender: {e}"))?;
    match http::server::serve(server, addr, state)? {
        http::server::Stopped::Gracefully => log::info("stopped", json!({"graceful": true})),
        http::server::Stopped::GraceExpired { still_running } => log::error(
            "stopped",
            json!({"graceful": false, "workers_still_running": still_running}),
        ),
    }
    Ok(())
}

/// `beefirst admin grant|revoke EMAIL`: sets the role of an active account from a shell (same
/// `DATABASE_URL`; the schema is applied first). Returns the line to print.
///
/// Errors: the database is unreachable, no active account has `email` (as typed, normalized), or
/// revoking would leave no enabled administrator.
pub fn admin_command(config: &Config, grant: bool, email: &str) -> Result<String, String> {
    let email = domain::Email::parse(email).map_err(|_| format!("{email:?} is not an email"))?;
    let pool = store::connect(config)?;
    let role = if grant { "admin" } else { "user" };
    service::admin::set_role_by_email(&pool, email.as_str(), role).map_err(|e| e.0)
}

/// `beefirst --healthcheck`: `GET /health` on `BIND_ADDR` (an unspecified IP means loopback), for
/// a container `HEALTHCHECK` without curl in the image. Ok only for a 200 within 3 seconds.
pub fn healthcheck(config: &Config) -> Result<(), String> {
    let mut addr = config.bind_addr;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            std::net::SocketAddr::V4(_) => Ipv4Addr::LOCALHOST.into(),
            std::net::SocketAddr::V6(_) => Ipv6Addr::LOCALHOST.into(),
        });
    }
    let request = format!("GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let status = client::status(addr, request.as_bytes(), Duration::from_secs(3))
        .map_err(|e| format!("health check of {addr} failed: {e}"))?;
    match status {
        200 => Ok(()),
        status => Err(format!("health check of {addr} answered {status}")),
    }
}
