//! Handlers of the trust state machine: register, activate, resend.

use crate::domain::{Email, Password, VerificationCode};
use crate::error::Error;
use crate::http::auth::parse_basic;
use crate::http::request::{header, json_object, read_body, string_field};
use crate::http::response::Reply;
use crate::service::{AppState, activate, register, resend};
use serde_json::json;
use tiny_http::Request;

/// `POST /register` `{"email", "password"}` → 201 `{"email", "status": "pending", "expires_in"}`.
pub fn register(request: &mut Request, state: &AppState) -> Result<Reply, Error> {
    let body = json_object(&read_body(request)?)?;
    let email = string_field(&body, "email")?;
    let password = string_field(&body, "password")?;
    let email = Email::parse(&email).map_err(Error::InvalidEmail)?;
    let password = Password::parse(password).map_err(Error::InvalidPassword)?;
    register::register(state, &email, &password)?;
    Ok(Reply::json(
        201,
        json!({"email": email.as_str(), "status": "pending", "expires_in": state.config.code_ttl_seconds}),
    ))
}

/// `POST /activate`, Basic Auth, `{"code"}` → 200 `{"email", "status": "active"}`.
///
/// Checks in contract order: body shape (400) → credentials (401) → state (410/422).
pub fn activate(request: &mut Request, state: &AppState) -> Result<Reply, Error> {
    let body = json_object(&read_body(request)?)?;
    let lengths = state.config.code_lengths;
    let code = VerificationCode::parse(&string_field(&body, "code")?, lengths)
        .map_err(|_| Error::InvalidCodeFormat { lengths })?;
    let credentials =
        parse_basic(header(request, "Authorization")).ok_or(Error::BasicAuthRequired)?;
    let email = activate::activate(state, &credentials.email, &credentials.password, &code)?;
    Ok(Reply::json(200, json!({"email": email.as_str(), "status": "active"})))
}

/// `POST /resend`, Basic Auth, no body → 202 `{"email", "status": "pending", "expires_in"}`.
pub fn resend(request: &mut Request, state: &AppState) -> Result<Reply, Error> {
    read_body(request)?; // any body is ignored, but framing rules still apply
    let credentials =
        parse_basic(header(request, "Authorization")).ok_or(Error::BasicAuthRequired)?;
    let email = resend::resend(state, &credentials.email, &credentials.password)?;
    Ok(Reply::json(
        202,
        json!({"email": email.as_str(), "status": "pending", "expires_in": state.config.code_ttl_seconds}),
    ))
}
