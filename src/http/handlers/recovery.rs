//! Handlers of account recovery and change of address: forgot and reset a password, change the
//! email.

use super::account::profile_json;
use super::bearer;
use crate::domain::{Email, Password, VerificationCode};
use crate::error::Error;
use crate::http::request::{json_object, read_body, string_field};
use crate::http::response::Reply;
use crate::service::{AppState, email_change, recovery};
use serde_json::json;
use tiny_http::Request;

/// `POST /password/forgot` `{"email"}` → 202 `{"status": "accepted"}`, whatever the email is.
pub fn forgot(request: &mut Request, state: &AppState) -> Result<Reply, Error> {
    let body = json_object(&read_body(request)?)?;
    let email = Email::parse(&string_field(&body, "email")?).map_err(Error::InvalidEmail)?;
    recovery::forgot(state, &email)?;
    Ok(Reply::json(202, json!({"status": "accepted"})))
}

/// `POST /password/reset` `{"email", "code", "new_password"}` → 204. Every malformed field is a
/// 400 before any code is evaluated; every failure of email and code is one 401 `invalid_code`.
pub fn reset(request: &mut Request, state: &AppState) -> Result<Reply, Error> {
    let body = json_object(&read_body(request)?)?;
    let email = Email::parse(&string_field(&body, "email")?).map_err(Error::InvalidEmail)?;
    let code = reset_code(&string_field(&body, "code")?, state)?;
    let new =
        Password::parse(string_field(&body, "new_password")?).map_err(Error::InvalidPassword)?;
    recovery::reset(state, &email, &code, &new)?;
    Ok(Reply::no_content())
}

/// `POST /me/email` `{"new_email", "password"}` (Bearer) → 202 `{"email", "pending_email",
/// "expires_in"}`.
pub fn change_email(request: &mut Request, state: &AppState) -> Result<Reply, Error> {
    let body = json_object(&read_body(request)?)?;
    let new_email =
        Email::parse(&string_field(&body, "new_email")?).map_err(Error::InvalidEmail)?;
    let password = string_field(&body, "password")?;
    let pending = email_change::request(state, &bearer(request, state)?, &new_email, &password)?;
    Ok(Reply::json(
        202,
        json!({
            "email": pending.email,
            "pending_email": pending.pending_email,
            "expires_in": pending.expires_in,
        }),
    ))
}

/// `POST /me/email/confirm` `{"code"}` (Bearer) → 200 the profile with the new email.
pub fn confirm_email(request: &mut Request, state: &AppState) -> Result<Reply, Error> {
    let body = json_object(&read_body(request)?)?;
    let code = reset_code(&string_field(&body, "code")?, state)?;
    let profile = email_change::confirm(state, &bearer(request, state)?, &code)?;
    Ok(Reply::json(200, profile_json(&profile)))
}

/// A code of exactly `RESET_CODE_DIGITS` digits, else 400 `invalid_code_format`.
pub(super) fn reset_code(raw: &str, state: &AppState) -> Result<VerificationCode, Error> {
    let digits = state.config.reset_code_digits;
    VerificationCode::parse_exact(raw, digits).map_err(|_| Error::InvalidResetCodeFormat { digits })
}
