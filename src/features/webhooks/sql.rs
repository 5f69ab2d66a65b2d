//! SQL of `webhook_deliveries` after the unit of work inserted them: handed out to one sender per
//! URL, retired as delivered or failed, listed and retried by administrators, reaped.

use crate::db::pool::{Connection, Queries};
use crate::error::Error;

/// One delivery handed to a sender.
#[derive(Debug)]
pub struct Due {
    /// Row id.
    pub id: i64,
    /// `webhook-id`.
    pub message_id: String,
    /// `user.created`, ... (for logs).
    pub event_type: String,
    /// The body, exactly as signed.
    pub payload: String,
    /// Attempts including this one (1 on the first).
    pub attempts: u32,
}

/// Takes the oldest due delivery to `endpoint`: counts the attempt and moves its next attempt
/// `lease_seconds` ahead, so no other sender (in this or another instance) takes it meanwhile and
/// it is tried again should this process die before retiring it. `SKIP LOCKED`: senders never
/// wait for each other.
pub fn claim_next(
    client: &mut Connection,
    endpoint: &str,
    lease_seconds: u32,
) -> Result<Option<Due>, Error> {
    let row = client.query_opt(
        "UPDATE webhook_deliveries
            SET attempts = attempts + 1, next_attempt_at = now() + make_interval(secs => $2)
          WHERE id = (SELECT id FROM webhook_deliveries
                       WHERE endpoint = $1 AND status = 'pending' AND next_attempt_at <= now()
                       ORDER BY next_attempt_at, id
                       LIMIT 1
                       FOR UPDATE SKIP LOCKED)
         RETURNING id, message_id, event_type, payload, attempts",
        &[&endpoint, &f64::from(lease_seconds)],
    )?;
    Ok(row.map(|r| Due {
        id: r.get(0),
        message_id: r.get(1),
        event_type: r.get(2),
        payload: r.get(3),
        attempts: u32::try_from(r.get::<_, i32>(4)).unwrap_or(u32::MAX),
    }))
}

/// Retires `due` as `delivered` (a 2xx) or `failed` (its last attempt failed, `error`). Only
/// while it is still this attempt's: a sender that overran its lease must not overwrite what
/// another sender (or an administrator's retry) did since.
pub fn finish(
    client: &mut Connection,
    due: &Due,
    delivered: bool,
    error: Option<&str>,
) -> Result<(), Error> {
    let status = if delivered { "delivered" } else { "failed" };
    client.execute(
        "UPDATE webhook_deliveries SET status = $2, last_error = $3, finished_at = now()
          WHERE id = $1 AND status = 'pending' AND attempts = $4",
        &[&due.id, &status, &error, &attempt(due)],
    )?;
    Ok(())
}

fn attempt(due: &Due) -> i32 {
    i32::try_from(due.attempts).unwrap_or(i32::MAX)
}

/// Records a failed attempt of `due`: why, and when to try again (only while it is still this
/// attempt's, as [`finish`]).
pub fn retry_later(
    client: &mut Connection,
    due: &Due,
    error: &str,
    after_seconds: u32,
) -> Result<(), Error> {
    client.execute(
        "UPDATE webhook_deliveries
            SET last_error = $2, next_attempt_at = now() + make_interval(secs => $3)
          WHERE id = $1 AND status = 'pending' AND attempts = $4",
        &[&due.id, &error, &f64::from(after_seconds), &attempt(due)],
    )?;
    Ok(())
}

/// A delivery as administrators see it.
#[derive(Debug)]
pub struct Delivery {
    /// Row id (the `{id}` of the retry path).
    pub id: i64,
    /// `webhook-id`.
    pub message_id: String,
    /// The URL.
    pub endpoint: String,
    /// `user.created`, ...
    pub event_type: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    /// Attempts so far.
    pub attempts: i32,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// RFC 3339 UTC, once delivered or failed.
    pub finished_at: Option<String>,
}

/// Up to `limit` deliveries with `status`, by id after `after` (keyset pagination).
pub fn list(
    client: &mut Connection,
    status: &str,
    after: Option<i64>,
    limit: i64,
) -> Result<Vec<Delivery>, Error> {
    let rows = client.query(
        concat!(
            "SELECT id, message_id, endpoint, event_type, status, attempts, last_error, ",
            rfc3339!("created_at"),
            ", ",
            rfc3339!("finished_at"),
            " FROM webhook_deliveries
              WHERE status = $1 AND id > coalesce($2::bigint, 0)
              ORDER BY id
              LIMIT $3"
        ),
        &[&status, &after, &limit],
    )?;
    Ok(rows
        .iter()
        .map(|r| Delivery {
            id: r.get(0),
            message_id: r.get(1),
            endpoint: r.get(2),
            event_type: r.get(3),
            status: r.get(4),
            attempts: r.get(5),
            last_error: r.get(6),
            created_at: r.get(7),
            finished_at: r.get(8),
        })
        .collect())
}

/// What a retry found: the delivery was failed and is pending again, is not failed (its
/// status), or does not exist.
pub enum Retried {
    /// Pending again with a fresh count of attempts, due now.
    Queued,
    /// Still `pending`, or `delivered`: nothing done.
    NotFailed(String),
    /// No such delivery.
    Missing,
}

/// Makes failed delivery `id` pending again, due now, in one statement.
pub fn retry(client: &mut Connection, id: i64) -> Result<Retried, Error> {
    let row = client.query_opt(
        "WITH d AS (SELECT id, status FROM webhook_deliveries WHERE id = $1 FOR UPDATE),
              u AS (UPDATE webhook_deliveries w
                       SET status = 'pending', attempts = 0, next_attempt_at = now(),
                           finished_at = NULL
                      FROM d WHERE w.id = d.id AND d.status = 'failed'
                    RETURNING w.id)
         SELECT d.status, EXISTS (SELECT 1 FROM u) FROM d",
        &[&id],
    )?;
    Ok(match row {
        None => Retried::Missing,
        Some(r) if r.get::<_, bool>(1) => Retried::Queued,
        Some(r) => Retried::NotFailed(r.get(0)),
    })
}

/// Deletes deliveries delivered over a day ago and failed ones over 30 days ago (reaper);
/// returns how many.
pub fn delete_old(client: &mut Connection) -> Result<u64, Error> {
    Ok(client.execute(
        "DELETE FROM webhook_deliveries
          WHERE status <> 'pending' AND finished_at < now() - interval '1 day'
            AND (status = 'delivered' OR finished_at < now() - interval '30 days')",
        &[],
    )?)
}
