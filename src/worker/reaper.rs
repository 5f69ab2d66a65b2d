//! The background reaper, every `REAPER_INTERVAL_SECONDS`:
//! - deletes expired claims, password hash and code hash included (seed truth #6, "release on
//!   expiration": unverified credentials are never hoarded). Expired claims are also replaced
//!   lazily by `POST /register` and deleted by `POST /activate` and `POST /resend`;
//! - deletes rate-limit counters whose window has passed, expired sessions, expired reset and
//!   email-change codes, passkey ceremonies, queued mail whose code expired before it could be
//!   delivered, webhook deliveries delivered over a day ago (failed ones after 30 days), and
//!   audit events older than `AUDIT_RETENTION_DAYS`;
//! - keeps this process's signing key listed (a heartbeat) and deletes retired keys.

use crate::app::AppState;
use crate::db;
use crate::error::Error;
use crate::features::{
    audit, identities, passkeys, rate_limits, recovery, registration, sessions, webhooks,
};
use crate::outbox;
use crate::telemetry::log;
use serde_json::json;
use std::sync::Arc;

/// Spawns the reaper thread. A failed sweep (database down) is logged and retried next interval.
pub fn spawn(state: Arc<AppState>) -> std::io::Result<std::thread::JoinHandle<()>> {
    let interval = state.config.housekeeping.reaper_interval;
    std::thread::Builder::new().name("reaper".into()).spawn(move || {
        loop {
            std::thread::sleep(interval);
            match sweep(&state) {
                Ok((0, 0)) => {}
                Ok((claims, counters)) => log::info(
                    "reaped",
                    json!({"expired_claims_deleted": claims, "stale_rows_deleted": counters}),
                ),
                Err(e) => log::error("reaper_failed", json!({"error": e.to_string()})),
            }
        }
    })
}

fn sweep(state: &AppState) -> Result<(u64, u64), Error> {
    // Independent of the rest: a failed heartbeat must not stop the deletion of expired claims.
    let keys = sessions::tokens::maintain_keys(state).unwrap_or_else(|e| {
        log::error("key_heartbeat_failed", json!({"error": e.to_string()}));
        0
    });
    let mut client = db::checkout(&state.pool)?;
    let claims = registration::sql::reap_expired_claims(&mut client)?;
    let counters = rate_limits::sql::delete_stale(&mut client)?;
    let live = sessions::sql::reap_expired(&mut client)?;
    let codes = recovery::sql::reap_expired(&mut client)?
        + sessions::sql::challenges::reap_expired(&mut client)?
        + passkeys::sql::ceremonies::reap_expired(&mut client)?
        + identities::sql::states::reap_expired(&mut client)?;
    let mail = outbox::sql::delete_expired(&mut client)?;
    let deliveries = webhooks::sql::delete_old(&mut client)?;
    let events = audit::sql::reap(&mut client, state.config.housekeeping.audit_retention_days)?;
    if mail > 0 {
        log::info("expired_mail_deleted", json!({"count": mail}));
    }
    Ok((claims, counters + live + keys + codes + mail + deliveries + events))
}
