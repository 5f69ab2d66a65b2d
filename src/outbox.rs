//! The background worker: delivers the mail that requests queue in the `outbox` table (reset
//! codes, notices) off the request path, and first turns queued forgot-password requests into
//! resets (`service::recovery::start_requested`).
//!
//! One thread per process takes due mail one at a time (`store::outbox::claim_next`, `FOR UPDATE
//! SKIP LOCKED`, so several instances share the queue) and hands it to the mailer:
//! - accepted (2xx): the row is deleted;
//! - refused or unreachable: logged (`mail_failed`, with the attempt number, never the text) and
//!   retried after 1, 2, 4, ... seconds, at most 5 minutes apart; after `MAIL_MAX_ATTEMPTS`
//!   attempts the mail is given up (`mail_given_up`) and deleted;
//! - a mail whose code has expired is never sent (the reaper deletes it).
//!
//! Delivery is at least once: a process that dies between the mail API's answer and the delete
//! leaves the row to be sent again once its lease has passed. A request that queues mail wakes
//! the sender at once; otherwise it looks for due mail every second.

use crate::domain::Email;
use crate::error::Error;
use crate::http::metrics::{METRICS, MailOutcome};
use crate::mail::Message;
use crate::service::AppState;
use crate::store::{self, outbox::Queued};
use serde_json::json;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// How often the sender looks for due mail when nobody woke it.
const POLL: Duration = Duration::from_secs(1);

/// Longest pause between two attempts of one mail, seconds.
const MAX_BACKOFF_SECONDS: u32 = 300;

/// Wakes the sender when a request has committed mail to the outbox.
#[derive(Default)]
pub struct Signal {
    pending: Mutex<bool>,
    ready: Condvar,
}

impl Signal {
    /// Called after the commit that queued mail: the sender looks at once.
    pub fn wake(&self) {
        if let Ok(mut pending) = self.pending.lock() {
            *pending = true;
            self.ready.notify_one();
        }
    }

    /// Waits until woken or `timeout` passed.
    fn wait(&self, timeout: Duration) {
        if let Ok(pending) = self.pending.lock() {
            if let Ok((mut pending, _)) = self.ready.wait_timeout_while(pending, timeout, |p| !*p) {
                *pending = false;
            }
        }
    }
}

/// Spawns the worker thread. A database error is logged and retried after [`POLL`].
pub fn spawn(state: Arc<AppState>) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new().name("outbox".into()).spawn(move || {
        loop {
            let work = crate::service::recovery::start_requested(&state)
                .and_then(|started| Ok(started > 0 || deliver_next(&state)?));
            match work {
                Ok(true) => continue,
                Ok(false) => state.outbox.wait(POLL),
                Err(e) => {
                    crate::log::error("outbox_failed", json!({"error": e.to_string()}));
                    state.outbox.wait(POLL);
                }
            }
        }
    })
}

/// Delivers the oldest due mail, if any; true when there was one. The pooled connection is
/// returned while the mailer works (up to `MAIL_TIMEOUT_MS`).
fn deliver_next(state: &AppState) -> Result<bool, Error> {
    let lease = u32::try_from(state.config.mail_timeout.as_secs()).unwrap_or(60) + 30;
    let Some(mail) = store::outbox::claim_next(&mut *store::checkout(&state.pool)?, lease)? else {
        return Ok(false);
    };
    let sent = match message_of(&mail) {
        Some(message) => state.mailer.send(&message).map_err(|e| e.to_string()),
        None => Err("the recipient is not a valid address".to_owned()),
    };
    let mut client = store::checkout(&state.pool)?;
    match sent {
        Ok(()) => {
            METRICS.mail(MailOutcome::Sent);
            store::outbox::delete(&mut client, mail.id)?;
        }
        Err(error) if mail.attempts >= state.config.mail_max_attempts => {
            METRICS.mail(MailOutcome::GivenUp);
            let fields = json!({"kind": mail.kind, "attempts": mail.attempts, "error": error});
            crate::log::error("mail_given_up", fields);
            store::outbox::delete(&mut client, mail.id)?;
        }
        Err(error) => {
            METRICS.mail(MailOutcome::Failed);
            let retry_in = backoff_seconds(mail.attempts);
            let fields = json!({"kind": mail.kind, "attempt": mail.attempts,
                                "retry_in_seconds": retry_in, "error": error});
            crate::log::error("mail_failed", fields);
            store::outbox::retry_later(&mut client, mail.id, &error, retry_in)?;
        }
    }
    Ok(true)
}

fn message_of(mail: &Queued) -> Option<Message> {
    Some(Message {
        to: Email::parse(&mail.recipient).ok()?,
        subject: mail.subject.clone(),
        text: mail.body.clone(),
    })
}

/// Pause after failed attempt number `attempt` (1-based): 1, 2, 4, ... seconds, at most 5 minutes.
pub fn backoff_seconds(attempt: u32) -> u32 {
    1u32.checked_shl(attempt.saturating_sub(1)).unwrap_or(u32::MAX).min(MAX_BACKOFF_SECONDS)
}

#[cfg(test)]
mod tests {
    use super::backoff_seconds;

    #[test]
    fn pauses_double_up_to_five_minutes() {
        let pauses: Vec<u32> = (1..=11).map(backoff_seconds).collect();
        assert_eq!(pauses, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(backoff_seconds(0), 1);
        assert_eq!(backoff_seconds(40), 300);
    }
}
