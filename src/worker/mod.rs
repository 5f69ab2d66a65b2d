//! The background threads, an outer layer like the web server (nothing imports it): the worker
//! that turns queued requests for mailed codes into codes and delivers queued mail, one webhook
//! sender per `WEBHOOK_URLS` entry, and the [`reaper`].

pub mod reaper;

use crate::app::AppState;
use crate::features::recovery;
use crate::features::webhooks::delivery::{self, Sender};
use crate::outbox;
use crate::telemetry::log;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// How often the worker looks for work when nobody woke it.
const POLL: Duration = Duration::from_secs(1);

/// Spawns the worker thread: queued requests for mailed codes first (they make mail), then one
/// due mail at a time; it sleeps until a commit that queued something wakes it, or [`POLL`]. A
/// database error is logged and retried after [`POLL`].
pub fn spawn(state: Arc<AppState>) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new().name("outbox".into()).spawn(move || {
        loop {
            let work = recovery::flow::start_requested(&state)
                .and_then(|started| Ok(started > 0 || outbox::deliver_next(&state)?));
            match work {
                Ok(true) => continue,
                Ok(false) => state.worker_signal.wait(POLL),
                Err(e) => {
                    log::error("outbox_failed", json!({"error": e.to_string()}));
                    state.worker_signal.wait(POLL);
                }
            }
        }
    })
}

/// Spawns one webhook sender thread per `WEBHOOK_URLS` entry: it delivers its URL's due events
/// one at a time, and sleeps until a commit that queued some wakes it, or [`POLL`]. A database
/// error is logged and retried after [`POLL`].
pub fn spawn_webhook_senders(state: &Arc<AppState>) -> std::io::Result<()> {
    for index in 0..state.config.webhooks.endpoints.len() {
        let state = Arc::clone(state);
        std::thread::Builder::new().name(format!("webhooks-{index}")).spawn(move || {
            let sender = Sender::new(&state, index);
            let signal = &state.webhook_signals[index];
            loop {
                match delivery::deliver_next(&state, &sender) {
                    Ok(true) => continue,
                    Ok(false) => signal.wait(POLL),
                    Err(e) => {
                        log::error("webhook_sender_failed", json!({"error": e.to_string()}));
                        signal.wait(POLL);
                    }
                }
            }
        })?;
    }
    Ok(())
}
