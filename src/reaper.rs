//! The background reaper, every `REAPER_INTERVAL_SECONDS`:
//! - deletes expired claims, password hash and code hash included (seed truth #6, "release on
//!   expiration": unverified credentials are never hoarded). Expired claims are also replaced
//!   lazily by `POST /register` and deleted by `POST /activate` and `POST /resend`;
//! - deletes rate-limit counters whose window has passed, and expired sessions.

use crate::error::Error;
use crate::store::{self, Pool};
use serde_json::json;
use std::time::Duration;

/// Spawns the reaper thread. A failed sweep (database down) is logged and retried next interval.
pub fn spawn(pool: Pool, interval: Duration) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new().name("reaper".into()).spawn(move || {
        loop {
            std::thread::sleep(interval);
            match sweep(&pool) {
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

fn sweep(pool: &Pool) -> Result<(u64, u64), Error> {
    let mut client = store::checkout(pool)?;
    let claims = store::accounts::reap_expired_claims(&mut client)?;
    let counters = store::rate_limits::delete_stale(&mut client)?;
    let sessions = store::sessions::reap_expired(&mut client)?;
    Ok((claims, counters + sessions))
}
