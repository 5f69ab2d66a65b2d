//! Sending the queued deliveries: one [`Sender`] per webhook URL in every instance, run by the
//! background worker (`src/worker/`), never on a request path.
//!
//! A sender takes its URL's oldest due delivery (`sql::claim_next`, a lease of twice
//! `WEBHOOK_TIMEOUT_MS` and 5 s), signs it at send time (`webhook-timestamp` is the attempt's
//! time, so a retry hours later still passes a receiver's 5-minute tolerance) and POSTs it:
//! - a 2xx answer: delivered;
//! - anything else (another status, a refused connection, the timeout): the attempt failed,
//!   logged as `webhook_attempt_failed` and tried again after 1, 2, 4, ... seconds, at most an
//!   hour apart; after `WEBHOOK_MAX_ATTEMPTS` attempts it is `failed` (`webhook_failed`) until an
//!   administrator retries it.
//!
//! One sender per URL: a receiver that hangs holds up only its own deliveries, for at most the
//! timeout each. Redirects are not followed (a receiver's move is a configuration change).

use super::sql::{self, Due};
use crate::app::AppState;
use crate::client::agent;
use crate::db;
use crate::error::Error;
use crate::outbox::backoff_seconds;
use crate::security::webhook_signature;
use crate::telemetry::log;
use crate::telemetry::metrics::{METRICS, WebhookOutcome};
use serde_json::json;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Longest pause between two attempts of one delivery, seconds.
const MAX_BACKOFF_SECONDS: u32 = 3600;

/// Most bytes of a receiver's answer read (and then dropped), so the connection can be reused.
const ANSWER_LIMIT: u64 = 64 * 1024;

/// The sender of one URL: its keep-alive HTTP client, bounded by `WEBHOOK_TIMEOUT_MS`.
pub struct Sender {
    agent: ureq::Agent,
    endpoint: String,
}

impl Sender {
    /// The sender of `WEBHOOK_URLS` entry `index`.
    pub fn new(state: &AppState, index: usize) -> Sender {
        let endpoint =
            state.config.webhooks.endpoints.get(index).map(|u| u.to_string()).unwrap_or_default();
        Sender { agent: agent::bounded(state.config.webhooks.timeout), endpoint }
    }
}

/// Delivers the oldest due delivery of `sender`'s URL, if any; true when there was one. No pooled
/// connection is held while the receiver answers.
pub fn deliver_next(state: &AppState, sender: &Sender) -> Result<bool, Error> {
    let lease = lease_seconds(state);
    let mut client = db::checkout(&state.pool)?;
    let Some(due) = sql::claim_next(&mut client, &sender.endpoint, lease)? else {
        return Ok(false);
    };
    drop(client);
    let started = Instant::now();
    let sent = send(state, sender, &due);
    METRICS.webhook(if sent.is_ok() { WebhookOutcome::Delivered } else { WebhookOutcome::Failed });
    METRICS.webhook_latency(started.elapsed().as_secs_f64());
    let mut client = db::checkout(&state.pool)?;
    let fields = |error: &str| {
        json!({"webhook_id": due.message_id, "type": due.event_type, "url": sender.endpoint,
               "attempt": due.attempts, "error": error})
    };
    match sent {
        Ok(()) => sql::finish(&mut client, &due, true, None)?,
        Err(error) if due.attempts >= state.config.webhooks.max_attempts => {
            METRICS.webhook(WebhookOutcome::GivenUp);
            log::error("webhook_failed", fields(&error));
            sql::finish(&mut client, &due, false, Some(&error))?;
        }
        Err(error) => {
            let retry_in = backoff_seconds(due.attempts, MAX_BACKOFF_SECONDS);
            let mut logged = fields(&error);
            logged["retry_in_seconds"] = retry_in.into();
            log::error("webhook_attempt_failed", logged);
            sql::retry_later(&mut client, &due, &error, retry_in)?;
        }
    }
    Ok(true)
}

/// How long a sender holds a delivery it took: twice the timeout and 5 seconds more (the two
/// statements around the POST), so one that dies mid-delivery leaves it to another sender then.
fn lease_seconds(state: &AppState) -> u32 {
    let twice = (state.config.webhooks.timeout.as_millis() * 2).div_ceil(1000);
    u32::try_from(twice).unwrap_or(120) + 5
}

/// One signed POST; `Err` says why it did not count as delivered.
fn send(state: &AppState, sender: &Sender, due: &Due) -> Result<(), String> {
    let timestamp = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let timestamp = i64::try_from(timestamp).unwrap_or(i64::MAX);
    let key = &state.config.webhooks.secret;
    let signature = webhook_signature::sign(key, &due.message_id, timestamp, &due.payload);
    let mut answer = sender
        .agent
        .post(&sender.endpoint)
        .header("Content-Type", "application/json")
        .header("User-Agent", "beefirst")
        .header("webhook-id", &due.message_id)
        .header("webhook-timestamp", &timestamp.to_string())
        .header("webhook-signature", &signature)
        .send(due.payload.as_bytes())
        .map_err(|e| e.to_string())?;
    let status = answer.status();
    let _ = answer.body_mut().with_config().limit(ANSWER_LIMIT).read_to_vec();
    if status.is_success() { Ok(()) } else { Err(format!("the receiver answered {status}")) }
}
