//! beefirst: a small account service around a trust state machine for identity claims.
//!
//! A person claims an email with a password (`POST /register`), receives a verification code by
//! mail, and activates with Basic Auth plus the code within the window (`POST /activate`).
//!
//! Layout (README, "How it is built"): [`features`] holds one folder per feature, each with the
//! same layers (`api.rs`: typed requests and answers and the handlers; `flow.rs`: the use cases;
//! `sql.rs`: its statements); [`domain`] the shared types whose constructors parse; [`uow`] the
//! unit of work through which every audit event, notice and webhook event is written; [`db`], [`mail`],
//! [`outbox`], [`security`] and [`telemetry`] the infrastructure they use. [`web`] (the tiny_http
//! server) and [`worker`] (the background threads) are the outer layers: nothing imports them.

pub mod api;
pub mod app;
pub mod client;
pub mod config;
pub mod context;
#[macro_use]
pub mod db;
pub mod domain;
pub mod error;
pub mod features;
pub mod mail;
pub mod outbox;
pub mod security;
pub mod telemetry;
pub mod uow;
pub mod web;
pub mod worker;

use app::AppState;
use config::Config;
use serde_json::json;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;
use telemetry::log;

/// Starts the service and blocks while it runs: connects to PostgreSQL (with bounded retries),
/// applies the schema, binds, prints the `listening` line first on stdout, then serves until
/// SIGTERM/SIGINT (returns `Ok`, exit code 0).
///
/// Errors: a one-line reason for the operator (database unreachable, bind failed, listener lost).
pub fn run(config: Config) -> Result<(), String> {
    web::listener::exit_if_accepting_dies();
    web::listener::raise_open_files_limit();
    let pool = db::connect(&config)?;
    let state = AppState::new(config, pool).map_err(|e| format!("start-up failed: {e}"))?;
    // The signing key is listed before the first token it signs can be presented anywhere.
    features::sessions::tokens::maintain_keys(&state)
        .map_err(|e| format!("cannot list the signing key: {e}"))?;
    let state = Arc::new(state);
    let server = web::listener::bind(state.config.server.bind_addr)?;
    let addr = server.server_addr().to_ip().ok_or("bound to a non-IP address")?;
    worker::reaper::spawn(Arc::clone(&state))
        .map_err(|e| format!("cannot start the reaper: {e}"))?;
    worker::spawn(Arc::clone(&state)).map_err(|e| format!("cannot start the mail sender: {e}"))?;
    worker::spawn_webhook_senders(&state)
        .map_err(|e| format!("cannot start the webhook senders: {e}"))?;
    match web::server::serve(server, addr, state)? {
        web::server::Stopped::Gracefully => log::info("stopped", json!({"graceful": true})),
        web::server::Stopped::GraceExpired { still_running } => log::error(
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
    let pool = db::connect(config)?;
    let role = if grant { domain::Role::Admin } else { domain::Role::User };
    features::admin::flow::set_role_by_email(&pool, &config.webhooks, &email, role).map_err(|e| e.0)
}

/// `beefirst import [--dry-run] FILE|-`: makes the accounts of an NDJSON file (`-`: stdin),
/// reporting each bad line and each email already present on stderr and a summary line on
/// stdout. `Ok(true)` when every line was imported or skipped (exit 0), `Ok(false)` when some
/// were bad (exit 1).
///
/// Errors: the file cannot be opened, the database is unreachable or fails mid-way (the batches
/// committed before stay; a rerun skips them).
pub fn import_command(config: &Config, source: &str, dry_run: bool) -> Result<bool, String> {
    let input: Box<dyn std::io::BufRead> = if source == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let file = std::fs::File::open(source).map_err(|e| format!("cannot open {source}: {e}"))?;
        Box::new(std::io::BufReader::with_capacity(1 << 16, file))
    };
    let pool = db::connect(config)?;
    let mut stderr = std::io::LineWriter::new(std::io::stderr().lock());
    let mut report = |line: features::transfer::api::Report| {
        use std::io::Write;
        let _ = writeln!(stderr, "{line}");
    };
    let summary = features::transfer::flow::import(&pool, config, input, dry_run, &mut report)
        .map_err(|e| format!("import stopped: {e}"))?;
    println!("{}", summary.line(dry_run));
    Ok(summary.failed == 0)
}

/// `beefirst export`: every active account as NDJSON on stdout, password hashes included (the
/// output is as secret as the database). Errors: the database, a closed stdout.
pub fn export_command(config: &Config) -> Result<(), String> {
    let pool = db::connect(config)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    features::transfer::flow::export(&pool, &mut out)
        .map(|_| ())
        .map_err(|e| format!("export stopped: {e}"))
}

/// `beefirst --healthcheck`: `GET /health` on `BIND_ADDR` (an unspecified IP means loopback), for
/// a container `HEALTHCHECK` without curl in the image. Ok only for a 200 within 3 seconds.
pub fn healthcheck(config: &Config) -> Result<(), String> {
    let mut addr = config.server.bind_addr;
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
