//! `GET /me`, `PATCH /me`, `POST /me/password`, `DELETE /me`: their requests and answers, and the
//! handlers.

use super::flow;
use crate::api::{ApiRequest, Reply};
use crate::app::AppState;
use crate::domain::{AccountStatus, DisplayName, Password, Profile};
use crate::error::Error;
use crate::features::sessions::tokens::bearer;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `POST /me/password`.
#[derive(Deserialize)]
pub struct PasswordChange {
    /// Checked against the account's (counts toward the login-failure limit when wrong).
    pub current_password: String,
    /// Same policy as at registration.
    pub new_password: String,
}

/// `DELETE /me` (and the other endpoints that only re-check the password).
#[derive(Deserialize)]
pub struct PasswordConfirmation {
    /// The account's password (an account without one leaves it out and shows a recent sign-in).
    pub password: Option<String>,
}

/// The account as its owner sees it (`GET /me` and every answer that returns the profile).
#[derive(Serialize)]
pub struct ProfileReply<'a> {
    /// Normalized.
    pub email: &'a str,
    /// Always `active`: only an account has a session.
    pub status: &'static str,
    /// As the owner set it.
    pub display_name: Option<&'a str>,
    /// RFC 3339 UTC.
    pub created_at: &'a str,
    /// RFC 3339 UTC.
    pub activated_at: &'a str,
    /// `user` or `admin`.
    pub role: &'static str,
    /// A confirmed second factor.
    pub totp_enabled: bool,
    /// Unused recovery codes; null while the second factor is off.
    pub recovery_codes_left: Option<i64>,
    /// False for an account made from another provider that has no password (yet).
    pub password_set: bool,
}

/// The 200 answer carrying `profile`.
pub fn profile_reply(profile: &Profile) -> Reply {
    Reply::of(
        200,
        &ProfileReply {
            email: profile.email.as_str(),
            status: AccountStatus::Active.as_str(),
            display_name: profile.display_name.as_deref(),
            created_at: &profile.created_at,
            activated_at: &profile.activated_at,
            role: profile.role.as_str(),
            totp_enabled: profile.totp_enabled,
            recovery_codes_left: profile.totp_enabled.then_some(profile.recovery_codes_left),
            password_set: profile.password_set,
        },
    )
}

/// `GET /me` (Bearer) → 200 profile.
pub fn me(request: &ApiRequest, state: &AppState) -> Result<Reply, Error> {
    Ok(profile_reply(&flow::profile(state, &bearer(request, state)?)?))
}

/// `PATCH /me` `{"display_name": string|null}` (Bearer) → 200 profile. Fields other than
/// `display_name` are refused (400 `unknown_field`); `{}` changes nothing.
pub fn update_me(request: &ApiRequest, state: &AppState) -> Result<Reply, Error> {
    let body = request.json_object()?;
    let fields = body.as_object().into_iter().flat_map(|o| o.keys());
    if let Some(field) = fields.into_iter().find(|k| *k != "display_name") {
        return Err(Error::UnknownField(field.clone()));
    }
    let change = display_name_change(body.get("display_name"))?;
    let token = bearer(request, state)?;
    let profile = match change {
        None => flow::profile(state, &token)?,
        Some(name) => flow::update_display_name(state, &request.context, &token, name.as_ref())?,
    };
    Ok(profile_reply(&profile))
}

/// `POST /me/password` `{"current_password", "new_password"}` (Bearer) → 204.
pub fn change_password(request: &ApiRequest, state: &AppState) -> Result<Reply, Error> {
    let body: PasswordChange = request.json()?;
    let new = Password::parse(body.new_password).map_err(Error::InvalidPassword)?;
    let session = bearer(request, state)?;
    flow::change_password(state, &request.context, &session, &body.current_password, &new)?;
    Ok(Reply::no_content())
}

/// `DELETE /me` `{"password"}` (Bearer) → 204: the account and all its sessions are gone.
pub fn delete_me(request: &ApiRequest, state: &AppState) -> Result<Reply, Error> {
    let body: PasswordConfirmation = request.json()?;
    flow::delete(state, &request.context, &bearer(request, state)?, body.password.as_deref())?;
    Ok(Reply::no_content())
}

/// `None`: no change requested; `Some(None)`: clear; `Some(Some(name))`: set.
fn display_name_change(value: Option<&Value>) -> Result<Option<Option<DisplayName>>, Error> {
    match value {
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
