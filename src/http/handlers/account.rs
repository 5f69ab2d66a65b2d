//! Handlers of the account behind a session: profile, display name, password change, deletion.

use super::bearer;
use crate::domain::{DisplayName, Password, Profile};
use crate::error::Error;
use crate::http::request::{json_object, read_body, string_field};
use crate::http::response::Reply;
use crate::service::{AppState, account};
use serde_json::{Map, Value, json};
use tiny_http::Request;

/// `GET /me` (Bearer) → 200 profile.
pub fn me(request: &mut Request, state: &AppState) -> Result<Reply, Error> {
    let profile = account::profile(state, &bearer(request, state)?)?;
    Ok(Reply::json(200, profile_json(&profile)))
}

/// `PATCH /me` `{"display_name": string|null}` (Bearer) → 200 profile. Fields other than
/// `display_name` are refused (400 `unknown_field`); `{}` changes nothing.
pub fn update_me(request: &mut Request, state: &AppState) -> Result<Reply, Error> {
    let body = json_object(&read_body(request)?)?;
    if let Some(field) = body.keys().find(|k| *k != "display_name") {
        return Err(Error::UnknownField(field.clone()));
    }
    let change = display_name_change(&body)?;
    let token = bearer(request, state)?;
    let profile = match change {
        None => account::profile(state, &token)?,
        Some(name) => account::update_display_name(state, &token, name.as_ref())?,
    };
    Ok(Reply::json(200, profile_json(&profile)))
}

/// `POST /me/password` `{"current_password", "new_password"}` (Bearer) → 204.
pub fn change_password(request: &mut Request, state: &AppState) -> Result<Reply, Error> {
    let body = json_object(&read_body(request)?)?;
    let current = string_field(&body, "current_password")?;
    let new =
        Password::parse(string_field(&body, "new_password")?).map_err(Error::InvalidPassword)?;
    account::change_password(state, &bearer(request, state)?, &current, &new)?;
    Ok(Reply::no_content())
}

/// `DELETE /me` `{"password"}` (Bearer) → 204: the account and all its sessions are gone.
pub fn delete_me(request: &mut Request, state: &AppState) -> Result<Reply, Error> {
    let body = json_object(&read_body(request)?)?;
    let password = string_field(&body, "password")?;
    account::delete(state, &bearer(request, state)?, &password)?;
    Ok(Reply::no_content())
}

/// `None`: no change requested; `Some(None)`: clear; `Some(Some(name))`: set.
fn display_name_change(body: &Map<String, Value>) -> Result<Option<Option<DisplayName>>, Error> {
    match body.get("display_name") {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(raw)) => {
            Ok(Some(Some(DisplayName::parse(raw).ok_or(Error::InvalidDisplayName)?)))
        }
        Some(_) => {
            Err(Error::InvalidRequest("Field `display_name` must be a string or null.".into()))
        }
    }
}

pub(super) fn profile_json(profile: &Profile) -> Value {
    json!({
        "email": profile.email,
        "status": "active",
        "display_name": profile.display_name,
        "created_at": profile.created_at,
        "activated_at": profile.activated_at,
        "role": profile.role,
        "totp_enabled": profile.totp_enabled,
    })
}
