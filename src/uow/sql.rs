//! The only statements that insert into `audit_events`, `outbox` and `webhook_deliveries`
//! (`.ci/rules` checks it).

use super::{Event, Subject};
use crate::config::WebhookSettings;
use crate::context::Context;
use crate::db::pool::{Queries, Tx};
use crate::domain::UserEvent;
use crate::error::Error;
use crate::mail::{Delivery, Message, Notice};

/// Inserts `events` in one statement, in order. Subjects and actors are read `FOR KEY SHARE`, so
/// a concurrent deletion either waits for this transaction or has happened already: an event
/// about an account that is gone (or an email that is no account) is dropped, an actor that is
/// gone is recorded as none, and the foreign keys never fail. The subject is joined by id and by
/// email apart (not `id = … OR email = …`), so a batch of a thousand (an import) is hash-joined
/// instead of compared pair by pair.
pub fn insert_events(tx: &mut Tx<'_>, context: &Context, events: &[Event]) -> Result<(), Error> {
    let mut ids: Vec<Option<i64>> = Vec::with_capacity(events.len());
    let mut emails: Vec<Option<String>> = Vec::with_capacity(events.len());
    for event in events {
        let (id, email) = match &event.subject {
            Subject::None => (None, None),
            Subject::Account(id) => (Some(*id), None),
            Subject::Email(email) => (None, Some(email.as_str().to_owned())),
        };
        ids.push(id);
        emails.push(email);
    }
    let actors: Vec<Option<i64>> = events.iter().map(|e| e.actor).collect();
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    let details: Vec<Option<String>> =
        events.iter().map(|e| e.details.as_ref().map(ToString::to_string)).collect();
    let contexts: Vec<&Context> =
        events.iter().map(|e| e.context.as_ref().unwrap_or(context)).collect();
    let ips: Vec<Option<&str>> = contexts.iter().map(|c| c.client_ip.as_deref()).collect();
    let request_ids: Vec<Option<&str>> = contexts.iter().map(|c| c.request_id.as_deref()).collect();
    tx.execute(
        "WITH e AS (
             SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::text[],
                                  $6::text[], $7::text[])
                      WITH ORDINALITY
                      AS e(subject, subject_email, actor, action, details, client_ip, request_id, n)
         ), subjects AS (
             SELECT id, email FROM accounts
              WHERE id = ANY ($1::bigint[]) OR email = ANY ($2::text[])
                FOR KEY SHARE
         ), actors AS (
             SELECT id FROM accounts WHERE id = ANY ($3::bigint[]) FOR KEY SHARE
         )
         INSERT INTO audit_events (account_id, actor_id, action, client_ip, request_id, details)
         SELECT coalesce(by_id.id, by_email.id), a.id, e.action, e.client_ip, e.request_id,
                e.details::jsonb
           FROM e
           LEFT JOIN subjects by_id ON by_id.id = e.subject
           LEFT JOIN subjects by_email ON by_email.email = e.subject_email
           LEFT JOIN actors a ON a.id = e.actor
          WHERE (e.subject IS NULL AND e.subject_email IS NULL)
             OR coalesce(by_id.id, by_email.id) IS NOT NULL
          ORDER BY e.n",
        &[&ids, &emails, &actors, &actions, &details, &ips, &request_ids],
    )?;
    Ok(())
}

/// Queues `notices` in the outbox in one statement; returns their row ids, in order. A mail
/// that carries a code expires with it (never sent after). A notice to be tried before the answer
/// is not due for `lease_seconds`: the request that queued it tries it first, and the worker only
/// if that request dies.
pub fn insert_notices(
    tx: &mut Tx<'_>,
    notices: &[Notice],
    messages: &[Message],
    lease_seconds: u32,
) -> Result<Vec<i64>, Error> {
    let kinds: Vec<&str> = notices.iter().map(Notice::name).collect();
    let recipients: Vec<&str> = notices.iter().map(|n| n.to.as_str()).collect();
    let subjects: Vec<&str> = messages.iter().map(|m| m.subject.as_str()).collect();
    let bodies: Vec<&str> = messages.iter().map(|m| m.text.as_str()).collect();
    let htmls: Vec<&str> = messages.iter().map(|m| m.html.as_str()).collect();
    let expiries: Vec<Option<f64>> =
        notices.iter().map(|n| n.expires_in().map(f64::from)).collect();
    let deferrals: Vec<f64> = notices
        .iter()
        .map(
            |n| if n.delivery() == Delivery::BeforeAnswer { f64::from(lease_seconds) } else { 0.0 },
        )
        .collect();
    let rows = tx.query(
        "INSERT INTO outbox (kind, recipient, subject, body, html, expires_at, next_attempt_at)
         SELECT kind, recipient, subject, body, html, now() + make_interval(secs => ttl),
                now() + make_interval(secs => defer)
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                       $6::float8[], $7::float8[])
                WITH ORDINALITY AS m(kind, recipient, subject, body, html, ttl, defer, n)
          ORDER BY n
         RETURNING id",
        &[&kinds, &recipients, &subjects, &bodies, &htmls, &expiries, &deferrals],
    )?;
    let mut ids: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
    ids.sort_unstable(); // identities are handed out in insertion order
    Ok(ids)
}

/// Queues each of `events` that `webhooks` wants for every webhook URL, in one statement (none
/// when nothing is wanted); returns the rows made. An event gets one `webhook-id` (`msg_` and 32
/// hex digits) shared by its URLs, and its body is fixed here, timestamped to the millisecond
/// as the change is about to commit: `{"type", "timestamp", "data": {"id", "email", ...}}`.
pub fn insert_webhook_events(
    tx: &mut Tx<'_>,
    events: &[UserEvent],
    webhooks: &WebhookSettings,
) -> Result<u64, Error> {
    let wanted: Vec<&UserEvent> = events.iter().filter(|e| webhooks.wants(e.kind)).collect();
    if wanted.is_empty() {
        return Ok(0);
    }
    let types: Vec<&str> = wanted.iter().map(|e| e.kind.as_str()).collect();
    let data: Vec<String> = wanted.iter().map(|e| data_of(e).to_string()).collect();
    let endpoints: Vec<&str> = webhooks.endpoints.iter().map(|u| u.as_str()).collect();
    Ok(tx.execute(
        "WITH e AS MATERIALIZED (
             SELECT type, data, n, 'msg_' || replace(gen_random_uuid()::text, '-', '') AS id,
                    to_char(clock_timestamp() AT TIME ZONE 'UTC',
                            'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS at
               FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS e(type, data, n)
         )
         INSERT INTO webhook_deliveries (message_id, endpoint, event_type, payload)
         SELECT e.id, u.endpoint, e.type,
                json_build_object('type', e.type, 'timestamp', e.at, 'data', e.data::json)::text
           FROM e CROSS JOIN unnest($3::text[]) WITH ORDINALITY AS u(endpoint, m)
          ORDER BY e.n, u.m",
        &[&types, &data, &endpoints],
    )?)
}

/// `{"id": "<id>", "email", ...extra}`: ids are strings on the wire, as everywhere in the API.
fn data_of(event: &UserEvent) -> serde_json::Value {
    let mut data = serde_json::Map::new();
    data.insert("id".into(), event.id.to_string().into());
    data.insert("email".into(), event.email.clone().into());
    if let Some(serde_json::Value::Object(extra)) = &event.extra {
        data.extend(extra.clone());
    }
    serde_json::Value::Object(data)
}

/// See `UnitOfWork::hold_account`.
pub fn hold_account(tx: &mut Tx<'_>, id: i64) -> Result<bool, Error> {
    Ok(tx.query_opt("SELECT 1 FROM accounts WHERE id = $1 FOR KEY SHARE", &[&id])?.is_some())
}
