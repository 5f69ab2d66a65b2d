//! Handlers of the admin API and of the audit trail (`/admin/...`, `GET /me/events`).
//!
//! Checks in the contract's order: the request's shape (400), the token (401), the caller's role
//! (403 `forbidden`), then the target (404, 409). Ids are path segments of digits.

use super::bearer;
use crate::error::Error;
use crate::http::request::{json_object, number_param, path_id, query_param, read_body};
use crate::http::response::Reply;
use crate::service::AppState;
use crate::service::admin::{self, Action};
use crate::store::admin::{AdminUser, UserFilter};
use crate::store::audit::{Event, EventFilter};
use serde_json::{Value, json};
use tiny_http::Request;

/// Page size when `limit` is absent.
const DEFAULT_LIMIT: i64 = 50;
/// Largest page.
const MAX_LIMIT: i64 = 100;

/// The caller's id once its token and admin role are checked.
fn admin_id(request: &Request, state: &AppState) -> Result<i64, Error> {
    admin::authorize(state, &bearer(request, state)?)
}

fn limit(request: &Request) -> Result<i64, Error> {
    Ok(number_param(request, "limit", 1..=MAX_LIMIT, Some(DEFAULT_LIMIT))?.unwrap_or(DEFAULT_LIMIT))
}

fn cursor(request: &Request) -> Result<Option<i64>, Error> {
    number_param(request, "after", 0..=i64::MAX, None)
}

/// `GET /admin/users?email_prefix=&status=&limit=&after=` → `{"users", "next"}`.
pub fn list_users(request: &mut Request, state: &AppState) -> Result<Reply, Error> {
    let status = query_param(request, "status")?;
    if let Some(s) = &status {
        if !["pending", "active", "disabled"].contains(&s.as_str()) {
            return Err(Error::InvalidRequest(
                "Query parameter `status` must be pending, active or disabled.".into(),
            ));
        }
    }
    let email_prefix = query_param(request, "email_prefix")?.map(|p| p.trim().to_lowercase());
    let filter = UserFilter { email_prefix, status, after: cursor(request)? };
    let limit = limit(request)?;
    admin_id(request, state)?;
    let (users, next) = admin::list(state, &filter, limit)?;
    let users: Vec<Value> = users.iter().map(user_json).collect();
    Ok(Reply::json(200, json!({"users": users, "next": next.map(|n| n.to_string())})))
}

/// `GET /admin/users/{id}` → the account.
pub fn get_user(request: &mut Request, state: &AppState) -> Result<Reply, Error> {
    let id = path_id(request)?;
    admin_id(request, state)?;
    Ok(Reply::json(200, user_json(&admin::get(state, id)?)))
}

/// `PATCH /admin/users/{id}` `{"role": "user"|"admin"}` → the account.
pub fn patch_user(request: &mut Request, state: &AppState) -> Result<Reply, Error> {
    let id = path_id(request)?;
    let body = json_object(&read_body(request)?)?;
    if let Some(field) = body.keys().find(|k| *k != "role") {
        return Err(Error::UnknownField(field.clone()));
    }
    let role = match body.get("role") {
        Some(Value::String(role)) if role == "user" || role == "admin" => role.clone(),
        _ => {
            return Err(Error::InvalidRequest(
                "Field `role` must be \"user\" or \"admin\".".into(),
            ));
        }
    };
    let actor = admin_id(request, state)?;
    Ok(Reply::json(200, user_json(&admin::set_role(state, actor, id, &role)?)))
}

/// `POST /admin/users/{id}/disable` → 204.
pub fn disable_user(request: &mut Request, state: &AppState) -> Result<Reply, Error> {
    act(request, state, Action::Disable)
}

/// `POST /admin/users/{id}/enable` → 204.
pub fn enable_user(request: &mut Request, state: &AppState) -> Result<Reply, Error> {
    act(request, state, Action::Enable)
}

/// `DELETE /admin/users/{id}` → 204.
pub fn delete_user(request: &mut Request, state: &AppState) -> Result<Reply, Error> {
    act(request, state, Action::Delete)
}

/// `DELETE /admin/users/{id}/sessions` → 204.
pub fn revoke_user_sessions(request: &mut Request, state: &AppState) -> Result<Reply, Error> {
    act(request, state, Action::RevokeSessions)
}

fn act(request: &mut Request, state: &AppState, action: Action) -> Result<Reply, Error> {
    let id = path_id(request)?;
    read_body(request)?; // any body is ignored, but framing rules still apply
    let actor = admin_id(request, state)?;
    admin::act(state, actor, id, action)?;
    Ok(Reply::no_content())
}

/// `GET /admin/events?subject=&action=&limit=&after=` → `{"events", "next"}`, newest first.
pub fn list_events(request: &mut Request, state: &AppState) -> Result<Reply, Error> {
    let filter = EventFilter {
        account_id: number_param(request, "subject", 0..=i64::MAX, None)?,
        action: query_param(request, "action")?,
        before: cursor(request)?,
    };
    let limit = limit(request)?;
    admin_id(request, state)?;
    events_reply(admin::events(state, &filter, limit)?)
}

/// `GET /me/events?limit=&after=` (Bearer) → the caller's own events, newest first.
pub fn own_events(request: &mut Request, state: &AppState) -> Result<Reply, Error> {
    let (before, limit) = (cursor(request)?, limit(request)?);
    events_reply(admin::own_events(state, &bearer(request, state)?, before, limit)?)
}

fn events_reply((events, next): (Vec<Event>, Option<i64>)) -> Result<Reply, Error> {
    let events: Vec<Value> = events.iter().map(event_json).collect();
    Ok(Reply::json(200, json!({"events": events, "next": next.map(|n| n.to_string())})))
}

fn user_json(user: &AdminUser) -> Value {
    json!({
        "id": user.id.to_string(),
        "email": user.email,
        "status": user.status,
        "role": user.role,
        "display_name": user.display_name,
        "created_at": user.created_at,
        "activated_at": user.activated_at,
        "disabled_at": user.disabled_at,
        "totp_enabled": user.totp_enabled,
        "sessions": user.sessions,
    })
}

fn event_json(event: &Event) -> Value {
    json!({
        "id": event.id.to_string(),
        "at": event.at,
        "action": event.action,
        "subject": event.account_id.map(|id| id.to_string()),
        "actor": event.actor_id.map(|id| id.to_string()),
        "client_ip": event.client_ip,
        "request_id": event.request_id,
        "details": event.details,
    })
}
