//! Handlers of accounts and sessions: login, logout, profile, password change, deletion.

use crate::domain::{DisplayName, Password, Profile, SessionToken};
use crate::error::Error;
use crate::http::auth::parse_bearer;
use crate::http::request::{header, json_object, read_body, string_field};
use crate::http::response::Reply;
use crate::service::{AppState, account, sessions};
use serde_json::{Map, Value, json};
use tiny_http::Request;

/// `POST /login` `{"email", "password"}` → 200 `{"access_token", "token_type", "expires_in"}`.
pub fn login(request: &mut Request, state: &AppState) -> Result<Reply, Error> {
    let body = json_object(&read_body(request)?)?;
    let email = string_field(&body, "email")?;
    let password = string_field(&body, "password")?;
    let token = sessions::login(state, &email, &password)?;
    Ok(Reply::json(
        200,
        json!({
            "access_token": token.expose(),
            "token_type": "Bearer",
            "expires_in": state.config.session_ttl_seconds,
        }),
    ))
}

/// `POST /logout` (Bearer) → 204: this session is revoked.
pub fn logout(request: &mut Request, state: &AppState) -> Result<Reply, Error> {
    read_body(request)?; // any body is ignored, but framing rules still apply
    sessions::logout(state, &bearer(request)?)?;
    Ok(Reply::no_content())
}

/// `GET /me` (Bearer) → 200 profile.
pub fn me(request: &mut Request, state: &AppState) -> Result<Reply, Error> {
    let profile = account::profile(state, &bearer(request)?)?;
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
    let token = bearer(request)?;
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
    account::change_password(state, &bearer(request)?, &current, &new)?;
    Ok(Reply::no_content())
}

/// `DELETE /me` `{"password"}` (Bearer) → 204: the account and all its sessions are gone.
pub fn delete_me(request: &mut Request, state: &AppState) -> Result<Reply, Error> {
    let body = json_object(&read_body(request)?)?;
    let password = string_field(&body, "password")?;
    account::delete(state, &bearer(request)?, &password)?;
    Ok(Reply::no_content())
}

/// The session token of a Bearer request, or 401 `invalid_token`.
fn bearer(request: &Request) -> Result<SessionToken, Error> {
    parse_bearer(header(request, "Authorization")).ok_or(Error::InvalidToken)
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

fn profile_json(profile: &Profile) -> Value {
    json!({
        "email": profile.email,
        "status": "active",
        "display_name": profile.display_name,
        "created_at": profile.created_at,
        "activated_at": profile.activated_at,
    })
}
