//! The background reaper: deletes expired claims every `REAPER_INTERVAL_SECONDS` (seed truth #6,
//! "release on expiration"; unverified credentials are never hoarded). Expired claims are also
//! replaced lazily by `POST /register` and deleted by `POST /activate`.

use crate::store::{self, Pool};
use serde_json::json;
use std::time::Duration;

/// Spawns the reaper thread. A failed sweep (database down) is logged and retried next interval.
pub fn spawn(pool: Pool, interval: Duration) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("reaper".into())
        .spawn(move || {
            loop {
                std::thread::sleep(interval);
                let swept = store::checkout(&pool)
                    .and_then(|mut client| store::accounts::reap_expired_claims(&mut *client));
                match swept {
                    Ok(0) => {}
                    Ok(deleted) => {
                        crate::log::info("reaped", json!({"expired_claims_deleted": deleted}))
                    }
                    Err(e) => crate::log::error("reaper_failed", json!({"error": e.to_string()})),
                }
            }
        })
}
