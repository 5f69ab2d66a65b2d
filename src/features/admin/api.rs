//! The admin API (`/admin/users…`): its requests and answers, and the handlers.
//!
//! Checks in the contract's order: the request's shape (400), the token (401), the caller's role
//! (403 `forbidden`), then the target (404, 409). Ids are path segments of digits.

use super::flow::{self, Action};
use super::sql::{AdminUser, UserFilter};
use crate::api::{ApiRequest, Reply};
use crate::app::AppState;
use crate::domain::Role;
use crate::error::Error;
use crate::features::sessions::tokens::bearer;
use serde::Serialize;
use serde_json::Value;

/// An account as administrators see it.
#[derive(Serialize)]
pub struct UserReply<'a> {
    /// The account's id (a string: ids are opaque to clients).
    pub id: String,
    /// Normalized.
    pub email: &'a str,
    /// `pending`, `active` or `disabled`.
    pub status: &'a str,
    /// `user` or `admin`.
    pub role: &'static str,
    /// As the owner set it.
    pub display_name: Option<&'a str>,
    /// RFC 3339 UTC.
    pub created_at: &'a str,
    /// RFC 3339 UTC, once activated.
    pub activated_at: Option<&'a str>,
    /// RFC 3339 UTC, while disabled.
    pub disabled_at: Option<&'a str>,
    /// A confirmed second factor.
    pub totp_enabled: bool,
    /// Live sessions.
    pub sessions: i64,
}

/// A page of accounts.
#[derive(Serialize)]
pub struct UserList<'a> {
    /// By id.
    pub users: Vec<UserReply<'a>>,
    /// The `after` of the next page; `null` on the last.
    pub next: Option<String>,
}

fn user_reply(user: &AdminUser) -> UserReply<'_> {
    UserReply {
        id: user.id.to_string(),
        email: user.email.as_str(),
        status: &user.status,
        role: user.role.as_str(),
        display_name: user.display_name.as_deref(),
        created_at: &user.created_at,
        activated_at: user.activated_at.as_deref(),
        disabled_at: user.disabled_at.as_deref(),
        totp_enabled: user.totp_enabled,
        sessions: user.sessions,
    }
}

/// The caller's id once its token and admin role are checked.
pub fn admin_id(request: &ApiRequest, state: &AppState) -> Result<i64, Error> {
    flow::authorize(state, &bearer(request, state)?)
}

/// `GET /admin/users?email_prefix=&status=&limit=&after=` → `{"users", "next"}`.
pub fn list_users(request: &ApiRequest, state: &AppState) -> Result<Reply, Error> {
    let status = request.query_param("status")?;
    if let Some(s) = &status {
        if !["pending", "active", "disabled"].contains(&s.as_str()) {
            return Err(Error::InvalidRequest(
                "Query parameter `status` must be pending, active or disabled.".into(),
            ));
        }
    }
    let email_prefix = request.query_param("email_prefix")?.map(|p| p.trim().to_lowercase());
    let (limit, after) = request.page()?;
    let filter = UserFilter { email_prefix, status, after };
    admin_id(request, state)?;
    let (users, next) = flow::list(state, &filter, limit)?;
    let users = users.iter().map(user_reply).collect();
    Ok(Reply::of(200, &UserList { users, next: next.map(|n| n.to_string()) }))
}

/// `GET /admin/users/{id}` → the account.
pub fn get_user(request: &ApiRequest, state: &AppState) -> Result<Reply, Error> {
    let id = request.path_id()?;
    admin_id(request, state)?;
    Ok(Reply::of(200, &user_reply(&flow::get(state, id)?)))
}

/// `PATCH /admin/users/{id}` `{"role": "user"|"admin"}` → the account. Fields other than `role`
/// are refused (400 `unknown_field`).
pub fn patch_user(request: &ApiRequest, state: &AppState) -> Result<Reply, Error> {
    let id = request.path_id()?;
    let body = request.json_object()?;
    let fields = body.as_object().into_iter().flat_map(|o| o.keys());
    if let Some(field) = fields.into_iter().find(|k| *k != "role") {
        return Err(Error::UnknownField(field.clone()));
    }
    let role = match body.get("role") {
        Some(Value::String(role)) => Role::parse(role),
        _ => None,
    }
    .ok_or_else(|| Error::InvalidRequest("Field `role` must be \"user\" or \"admin\".".into()))?;
    let actor = admin_id(request, state)?;
    let user = flow::set_role(state, &request.context, actor, id, role)?;
    Ok(Reply::of(200, &user_reply(&user)))
}

/// `POST /admin/users/{id}/disable` → 204.
pub fn disable_user(request: &ApiRequest, state: &AppState) -> Result<Reply, Error> {
    act(request, state, Action::Disable)
}

/// `POST /admin/users/{id}/enable` → 204.
pub fn enable_user(request: &ApiRequest, state: &AppState) -> Result<Reply, Error> {
    act(request, state, Action::Enable)
}

/// `DELETE /admin/users/{id}` → 204.
pub fn delete_user(request: &ApiRequest, state: &AppState) -> Result<Reply, Error> {
    act(request, state, Action::Delete)
}

/// `DELETE /admin/users/{id}/sessions` → 204.
pub fn revoke_user_sessions(request: &ApiRequest, state: &AppState) -> Result<Reply, Error> {
    act(request, state, Action::RevokeSessions)
}

fn act(request: &ApiRequest, state: &AppState, action: Action) -> Result<Reply, Error> {
    let id = request.path_id()?;
    let actor = admin_id(request, state)?;
    flow::act(state, &request.context, actor, id, action)?;
    Ok(Reply::no_content())
}
