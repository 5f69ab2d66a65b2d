//! `GET /me/events` and `GET /admin/events`: their answers, and the handlers.

use super::flow;
use super::sql::{Event, EventFilter};
use crate::api::{ApiRequest, Reply};
use crate::app::AppState;
use crate::error::Error;
use crate::features::admin::api::admin_id;
use crate::features::sessions::tokens::bearer;
use serde::Serialize;
use serde_json::Value;

/// One recorded event.
#[derive(Serialize)]
pub struct EventReply<'a> {
    /// Its id (the pagination cursor).
    pub id: String,
    /// RFC 3339 UTC.
    pub at: &'a str,
    /// What happened.
    pub action: &'a str,
    /// The account it is about.
    pub subject: Option<String>,
    /// Who acted.
    pub actor: Option<String>,
    /// Of the request that caused it.
    pub client_ip: Option<&'a str>,
    /// Of the request that caused it (its `X-Request-Id`).
    pub request_id: Option<&'a str>,
    /// Never a secret.
    pub details: Option<&'a Value>,
}

/// A page of events, newest first.
#[derive(Serialize)]
pub struct EventList<'a> {
    /// Newest first.
    pub events: Vec<EventReply<'a>>,
    /// The `after` of the next page; `null` on the last.
    pub next: Option<String>,
}

fn events_reply((events, next): (Vec<Event>, Option<i64>)) -> Reply {
    let events = events
        .iter()
        .map(|e| EventReply {
            id: e.id.to_string(),
            at: &e.at,
            action: &e.action,
            subject: e.account_id.map(|id| id.to_string()),
            actor: e.actor_id.map(|id| id.to_string()),
            client_ip: e.client_ip.as_deref(),
            request_id: e.request_id.as_deref(),
            details: e.details.as_ref(),
        })
        .collect();
    Reply::of(200, &EventList { events, next: next.map(|n| n.to_string()) })
}

/// `GET /admin/events?subject=&action=&limit=&after=` → `{"events", "next"}`, newest first.
pub fn list_events(request: &ApiRequest, state: &AppState) -> Result<Reply, Error> {
    let (limit, before) = request.page()?;
    let filter = EventFilter {
        account_id: request.number_param("subject", 0..=i64::MAX, None)?,
        action: request.query_param("action")?,
        before,
    };
    admin_id(request, state)?;
    Ok(events_reply(flow::events(state, &filter, limit)?))
}

/// `GET /me/events?limit=&after=` (Bearer) → the caller's own events, newest first.
pub fn own_events(request: &ApiRequest, state: &AppState) -> Result<Reply, Error> {
    let (limit, before) = request.page()?;
    Ok(events_reply(flow::own_events(state, &bearer(request, state)?, before, limit)?))
}
