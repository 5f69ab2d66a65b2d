//! Delivery of the mail queued in the `outbox` table (codes, notices), off the request path; the
//! background worker (`src/worker/`) calls [`deliver_next`] in a loop.
//!
//! One thread per process takes due mail one at a time (`outbox::sql::claim_next`, `FOR UPDATE
//! SKIP LOCKED`, so several instances share the queue) and hands it to the mailer:
//! - accepted (2xx): the row is deleted;
//! - refused or unreachable: logged (`mail_failed`, with the attempt number and the server's
//!   reply, never the text) and retried after 1, 2, 4, ... seconds, at most 5 minutes apart; after
//!   `MAIL_MAX_ATTEMPTS` attempts, or at once when refused for good (an SMTP 5xx), the mail is
//!   given up (`mail_given_up`) and deleted;
//! - a mail whose code has expired is never sent (the reaper deletes it).
//!
//! Delivery is at least once: a process that dies between the mail API's answer and the delete
//! leaves the row to be sent again once its lease has passed. A request that queues mail wakes
//! the sender at once; otherwise it looks for due mail every second.

pub mod sql;

use crate::app::AppState;
use crate::db;
use crate::domain::Email;
use crate::error::Error;
use crate::mail::{MailError, Message};
use crate::telemetry::log;
use crate::telemetry::metrics::{METRICS, MailOutcome};
use serde_json::json;
use sql::Queued;

/// Longest pause between two attempts of one mail, seconds.
const MAX_BACKOFF_SECONDS: u32 = 300;

/// Delivers the oldest due mail, if any; true when there was one. The pooled connection is
/// returned while the mailer works (up to `MAIL_TIMEOUT_MS`).
pub fn deliver_next(state: &AppState) -> Result<bool, Error> {
    let Some(mail) = sql::claim_next(&mut *db::checkout(&state.pool)?, lease(state))? else {
        return Ok(false);
    };
    deliver(state, &mail)?;
    Ok(true)
}

/// Tries mail `id` at once (a notice the contract wants mailed before the answer). Whatever
/// happens is logged; the mail stays queued for the worker's retries if this try fails.
pub fn deliver_now(state: &AppState, id: i64) {
    let tried = db::checkout(&state.pool)
        .and_then(|mut client| sql::claim(&mut client, id, lease(state)))
        .and_then(|mail| match mail {
            Some(mail) => deliver(state, &mail),
            None => Ok(()), // another sender has it
        });
    if let Err(e) = tried {
        log::error("outbox_failed", json!({"error": e.to_string()}));
    }
}

/// How long a sender holds a mail it took: the mailer's whole budget and then some, so a sender
/// that dies mid-delivery leaves it to another after that. `MAIL_TIMEOUT_MS` bounds each SMTP
/// read and write, and a slow exchange takes several (a stale pooled connection's NOOP, the
/// data, the QUIT): four of them, and 30 s.
pub fn lease(state: &AppState) -> u32 {
    u32::try_from(state.config.mail.timeout.as_secs() * 4).unwrap_or(240) + 30
}

/// Sends a claimed mail and retires it, or schedules its next attempt.
fn deliver(state: &AppState, mail: &Queued) -> Result<(), Error> {
    let sent = match message_of(mail) {
        Some(message) => state.mailer.send(&message),
        None => Err(MailError::permanent("the recipient is not a valid address".to_owned())),
    };
    let mut client = db::checkout(&state.pool)?;
    match sent {
        Ok(()) => {
            METRICS.mail(MailOutcome::Sent);
            sql::delete(&mut client, mail.id)?;
        }
        Err(error) if error.permanent || mail.attempts >= state.config.mail.max_attempts => {
            METRICS.mail(MailOutcome::GivenUp);
            let fields = json!({"kind": mail.kind, "attempts": mail.attempts,
                                "permanent": error.permanent, "error": error.reason});
            log::error("mail_given_up", fields);
            sql::delete(&mut client, mail.id)?;
        }
        Err(error) => {
            METRICS.mail(MailOutcome::Failed);
            let retry_in = backoff_seconds(mail.attempts, MAX_BACKOFF_SECONDS);
            let fields = json!({"kind": mail.kind, "attempt": mail.attempts,
                                "retry_in_seconds": retry_in, "error": error.reason});
            log::error("mail_failed", fields);
            sql::retry_later(&mut client, mail.id, &error.reason, retry_in)?;
        }
    }
    Ok(())
}

fn message_of(mail: &Queued) -> Option<Message> {
    Some(Message {
        to: Email::parse(&mail.recipient).ok()?,
        subject: mail.subject.clone(),
        text: mail.body.clone(),
        html: match &mail.html {
            Some(html) => html.clone(),
            None => crate::mail::html::render(&mail.subject, &mail.body),
        },
    })
}

/// Pause after failed attempt number `attempt` (1-based): 1, 2, 4, ... seconds, at most `cap`
/// (mail: 5 minutes; webhooks: an hour).
pub fn backoff_seconds(attempt: u32, cap: u32) -> u32 {
    1u32.checked_shl(attempt.saturating_sub(1)).unwrap_or(u32::MAX).min(cap)
}

#[cfg(test)]
mod tests {
    use super::backoff_seconds;

    #[test]
    fn pauses_double_up_to_five_minutes() {
        let pauses: Vec<u32> = (1..=11).map(|n| backoff_seconds(n, 300)).collect();
        assert_eq!(pauses, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(backoff_seconds(0, 300), 1);
        assert_eq!(backoff_seconds(40, 300), 300);
        assert_eq!(backoff_seconds(13, 3600), 3600);
    }
}
