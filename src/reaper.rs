//! The background reaper, every `REAPER_INTERVAL_SECONDS`:
//! - deletes expired claims, password hash and code hash included (seed truth #6, "release on
//!   expiration": unverified credentials are never hoarded). Expired claims are also replaced
//!   lazily by `POST /register` and deleted by `POST /activate` and `POST /resend`;
//! - deletes rate-limit counters whose window has passed, expired sessions, expired reset and
//!   email-change codes, queued mail whose code expired before it could be delivered, and audit
//!   events older than `AUDIT_RETENTION_DAYS`;
//! - keeps this process's signing key listed (a heartbeat) and deletes retired keys.

use crate::error::Error;
use crate::service::{AppState, tokens};
use crate::store;
use serde_json::json;
use std::sync::Arc;

/// Spawns the reaper thread. A failed sweep (database down) is logged and retried next interval.
pub fn spawn(state: Arc<AppState>) -> std::io::Result<std::thread::JoinHandle<()>> {
    let interval = state.config.reaper_interval;
    std::thread::Builder::new().name("reaper".into()).spawn(move || {
        loop {
            std::thread::sleep(interval);
            match sweep(&state) {
                Ok((0, 0)) => {}
                Ok((claims, counters)) => crate::log::info(
                    "reaped",
                    json!({"expired_claims_deleted": claims, "stale_rows_deleted": counters}),
                ),
                Err(e) => crate::log::error("reaper_failed", json!({"error": e.to_string()})),
            }
        }
    })
}

fn sweep(state: &AppState) -> Result<(u64, u64), Error> {
    // Independent of the rest: a failed heartbeat must not stop the deletion of expired claims.
    let keys = tokens::maintain_keys(state).unwrap_or_else(|e| {
        crate::log::error("key_heartbeat_failed", json!({"error": e.to_string()}));
        0
    });
    let mut client = store::checkout(&state.pool)?;
    let claims = store::accounts::reap_expired_claims(&mut client)?;
    let counters = store::rate_limits::delete_stale(&mut client)?;
    let sessions = store::sessions::reap_expired(&mut client)?;
    let codes =
        store::mailed_codes::reap_expired(&mut client)? + store::totp::reap_expired(&mut client)?;
    let mail = store::outbox::delete_expired(&mut client)?;
    let events = store::audit::reap(&mut client, state.config.audit_retention_days)?;
    if mail > 0 {
        crate::log::info("expired_mail_deleted", json!({"count": mail}));
    }
    Ok((claims, counters + sessions + keys + codes + mail + events))
}
