//! SQL of the `outbox` table: mail queued in the same transaction as the change it reports (by the
//! unit of work, `crate::uow`), handed out to senders here and retired once delivered.

use crate::db::pool::{Connection, Queries};
use crate::error::Error;
use crate::telemetry::metrics::Backlog;

/// One queued mail, handed to a sender.
#[derive(Debug)]
pub struct Queued {
    /// Row id.
    pub id: i64,
    /// What it is (`password_reset_code`, `email_changed`, ...), for logs and metrics.
    pub kind: String,
    /// Normalized address.
    pub recipient: String,
    /// Subject line.
    pub subject: String,
    /// Text, a code included if it carries one.
    pub body: String,
    /// The HTML part (`None` in a row queued by a version without it).
    pub html: Option<String>,
    /// Delivery attempts including this one (1 on the first).
    pub attempts: u32,
}

/// Takes the oldest due mail for this sender: counts the attempt and moves its next attempt
/// `lease_seconds` ahead, so no other sender (in this or another instance) takes it meanwhile,
/// and it is tried again should this process die before it is retired. `SKIP LOCKED`: senders
/// never wait for each other. Mail whose `expires_at` has passed is never handed out.
pub fn claim_next(client: &mut Connection, lease_seconds: u32) -> Result<Option<Queued>, Error> {
    let row = client.query_opt(
        "UPDATE outbox SET attempts = attempts + 1,
                           next_attempt_at = now() + make_interval(secs => $1)
          WHERE id = (SELECT id FROM outbox
                       WHERE next_attempt_at <= now() AND (expires_at IS NULL OR expires_at > now())
                       ORDER BY next_attempt_at, id
                       LIMIT 1
                       FOR UPDATE SKIP LOCKED)
         RETURNING id, kind, recipient, subject, body, attempts, html",
        &[&f64::from(lease_seconds)],
    )?;
    Ok(row.as_ref().map(queued))
}

/// Takes mail `id` as [`claim_next`] does, due or not (the request that queued it tries it before
/// answering); `None` if another sender holds it or it is gone.
pub fn claim(
    client: &mut Connection,
    id: i64,
    lease_seconds: u32,
) -> Result<Option<Queued>, Error> {
    let row = client.query_opt(
        "UPDATE outbox SET attempts = attempts + 1,
                           next_attempt_at = now() + make_interval(secs => $2)
          WHERE id = (SELECT id FROM outbox WHERE id = $1 FOR UPDATE SKIP LOCKED)
         RETURNING id, kind, recipient, subject, body, attempts, html",
        &[&id, &f64::from(lease_seconds)],
    )?;
    Ok(row.as_ref().map(queued))
}

fn queued(r: &postgres::Row) -> Queued {
    Queued {
        id: r.get(0),
        kind: r.get(1),
        recipient: r.get(2),
        subject: r.get(3),
        body: r.get(4),
        attempts: u32::try_from(r.get::<_, i32>(5)).unwrap_or(u32::MAX),
        html: r.get(6),
    }
}

/// Retires a mail: delivered, or given up.
pub fn delete(client: &mut Connection, id: i64) -> Result<(), Error> {
    client.execute("DELETE FROM outbox WHERE id = $1", &[&id])?;
    Ok(())
}

/// Records a failed attempt: the reason (no secret: the mailer's error text) and when to retry.
pub fn retry_later(
    client: &mut Connection,
    id: i64,
    error: &str,
    after_seconds: u32,
) -> Result<(), Error> {
    client.execute(
        "UPDATE outbox SET last_error = $2, next_attempt_at = now() + make_interval(secs => $3)
          WHERE id = $1",
        &[&id, &error, &f64::from(after_seconds)],
    )?;
    Ok(())
}

/// The background worker's queues (mail, code requests, webhook deliveries pending and
/// failed), in one statement.
pub fn backlog(client: &mut Connection) -> Result<Backlog, Error> {
    let row = client.query_one(
        "SELECT (SELECT count(*) FROM outbox), (SELECT count(*) FROM code_requests),
                (SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'),
                (SELECT count(*) FROM webhook_deliveries WHERE status = 'failed')",
        &[],
    )?;
    Ok(Backlog {
        mail: row.get(0),
        code_requests: row.get(1),
        webhooks: row.get(2),
        webhooks_failed: row.get(3),
    })
}

/// Deletes mail whose code expired before it could be delivered (reaper). Returns how many.
pub fn delete_expired(client: &mut Connection) -> Result<u64, Error> {
    Ok(client.execute("DELETE FROM outbox WHERE expires_at <= now()", &[])?)
}
