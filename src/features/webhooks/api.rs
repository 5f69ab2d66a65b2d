//! The webhook deliveries of the admin API (`/admin/webhooks/deliveries…`): what administrators
//! see of a delivery, and the handlers. Checks in the admin API's order: the request's shape
//! (400), the token (401), the role (403), then the delivery (404, 409).

use super::flow;
use super::sql::Delivery;
use crate::api::{ApiRequest, Reply};
use crate::app::AppState;
use crate::error::Error;
use crate::features::admin::api::admin_id;
use serde::Serialize;

/// One delivery of one event to one URL.
#[derive(Serialize)]
pub struct DeliveryReply<'a> {
    /// The delivery's id (a string), for the retry path.
    pub id: String,
    /// The `webhook-id` header: the event's id, the same for every URL and attempt.
    pub webhook_id: &'a str,
    /// The receiving URL.
    pub url: &'a str,
    /// `user.created`, ...
    #[serde(rename = "type")]
    pub event_type: &'a str,
    /// `pending`, `delivered` or `failed`.
    pub status: &'a str,
    /// Attempts so far.
    pub attempts: i32,
    /// Why the last attempt failed (`the receiver answered 500`, a connection error), if it did.
    pub last_error: Option<&'a str>,
    /// RFC 3339 UTC.
    pub created_at: &'a str,
    /// RFC 3339 UTC, once delivered or failed.
    pub finished_at: Option<&'a str>,
}

/// A page of deliveries.
#[derive(Serialize)]
pub struct DeliveryList<'a> {
    /// By id.
    pub deliveries: Vec<DeliveryReply<'a>>,
    /// The `after` of the next page; `null` on the last.
    pub next: Option<String>,
}

fn reply(d: &Delivery) -> DeliveryReply<'_> {
    DeliveryReply {
        id: d.id.to_string(),
        webhook_id: &d.message_id,
        url: &d.endpoint,
        event_type: &d.event_type,
        status: &d.status,
        attempts: d.attempts,
        last_error: d.last_error.as_deref(),
        created_at: &d.created_at,
        finished_at: d.finished_at.as_deref(),
    }
}

/// `GET /admin/webhooks/deliveries?status=failed|pending|delivered&limit=&after=` →
/// `{"deliveries", "next"}`; `status` defaults to `failed`.
pub fn list_deliveries(request: &ApiRequest, state: &AppState) -> Result<Reply, Error> {
    let status = request.query_param("status")?.unwrap_or_else(|| "failed".to_owned());
    if !["pending", "delivered", "failed"].contains(&status.as_str()) {
        return Err(Error::InvalidRequest(
            "Query parameter `status` must be pending, delivered or failed.".into(),
        ));
    }
    let (limit, after) = request.page()?;
    admin_id(request, state)?;
    let (deliveries, next) = flow::list(state, &status, after, limit)?;
    let deliveries = deliveries.iter().map(reply).collect();
    Ok(Reply::of(200, &DeliveryList { deliveries, next: next.map(|n| n.to_string()) }))
}

/// `POST /admin/webhooks/deliveries/{id}/retry` → 204: the failed delivery is pending again.
pub fn retry_delivery(request: &ApiRequest, state: &AppState) -> Result<Reply, Error> {
    let id = request.path_id()?;
    admin_id(request, state)?;
    flow::retry(state, id)?;
    Ok(Reply::no_content())
}
