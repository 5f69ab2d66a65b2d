//! SQL of reading the `audit_events` table: the event lists, the count of recent failures that
//! warns an owner, and retention. Events are inserted only by the unit of work (`crate::uow`).

use crate::db::pool::{Connection, Queries};
use crate::domain::AuditAction;
use crate::error::Error;
use serde_json::Value;

/// True when account `account_id` has at least `threshold` `login_failed` events recorded at
/// step `at` within the past hour (database clock) and no `second_factor_warning_mailed` event in that hour:
/// the owner is due a warning. Read inside the transaction that recorded the latest failure and
/// holds the account's lock, so two parallel failures cannot both decide to warn.
pub fn warning_due(
    q: &mut impl Queries,
    account_id: i64,
    at: &str,
    threshold: i64,
) -> Result<bool, Error> {
    let failed = AuditAction::LoginFailed.as_str();
    let warned = AuditAction::SecondFactorWarningMailed.as_str();
    let row = q.query_one(
        "SELECT count(*) FILTER (WHERE action = $4 AND details->>'at' = $2) >= $3
                AND count(*) FILTER (WHERE action = $5) = 0
           FROM audit_events
          WHERE account_id = $1 AND at > now() - interval '1 hour'",
        &[&account_id, &at, &threshold, &failed, &warned],
    )?;
    Ok(row.get(0))
}

/// One recorded event.
#[derive(Debug)]
pub struct Event {
    /// Row id (the pagination cursor).
    pub id: i64,
    /// RFC 3339 UTC.
    pub at: String,
    /// The account it is about.
    pub account_id: Option<i64>,
    /// Who acted.
    pub actor_id: Option<i64>,
    /// What happened (`login_succeeded`, `password_changed`, ...).
    pub action: String,
    /// The client IP of the request.
    pub client_ip: Option<String>,
    /// The request id.
    pub request_id: Option<String>,
    /// Extra facts, never a secret.
    pub details: Option<Value>,
}

/// Which events to list, newest first.
#[derive(Debug, Default)]
pub struct EventFilter {
    /// Only this subject's.
    pub account_id: Option<i64>,
    /// Only this action.
    pub action: Option<String>,
    /// Only events older than this id (the previous page's last).
    pub before: Option<i64>,
}

/// Up to `limit` events matching `filter`, newest first (keyset pagination on the id).
pub fn list(
    client: &mut Connection,
    filter: &EventFilter,
    limit: i64,
) -> Result<Vec<Event>, Error> {
    let rows = client.query(
        concat!(
            "SELECT id, ",
            rfc3339!("at"),
            ", account_id, actor_id, action, client_ip, request_id, details::text
               FROM audit_events
              WHERE ($1::bigint IS NULL OR account_id = $1)
                AND ($2::text IS NULL OR action = $2)
                AND ($3::bigint IS NULL OR id < $3)
              ORDER BY id DESC
              LIMIT $4"
        ),
        &[&filter.account_id, &filter.action, &filter.before, &limit],
    )?;
    Ok(rows
        .iter()
        .map(|r| Event {
            id: r.get(0),
            at: r.get(1),
            account_id: r.get(2),
            actor_id: r.get(3),
            action: r.get(4),
            client_ip: r.get(5),
            request_id: r.get(6),
            details: r.get::<_, Option<String>>(7).and_then(|d| serde_json::from_str(&d).ok()),
        })
        .collect())
}

/// Deletes events older than `retention_days` (reaper). Returns how many.
pub fn reap(client: &mut Connection, retention_days: u32) -> Result<u64, Error> {
    Ok(client.execute(
        "DELETE FROM audit_events WHERE at < now() - make_interval(days => $1)",
        &[&i32::try_from(retention_days).unwrap_or(i32::MAX)],
    )?)
}
