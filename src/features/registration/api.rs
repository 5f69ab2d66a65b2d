//! `POST /register`, `POST /activate` and `POST /resend`: their requests and answers, and the
//! handlers.

use super::flow;
use crate::api::auth::parse_basic;
use crate::api::{ApiRequest, Reply};
use crate::app::AppState;
use crate::domain::{AccountStatus, Email, Password, VerificationCode};
use crate::error::Error;
use serde::{Deserialize, Serialize};

/// `POST /register`.
#[derive(Deserialize)]
pub struct RegisterRequest {
    /// Normalized on parsing.
    pub email: String,
    /// 8 to 72 bytes.
    pub password: String,
}

/// `POST /activate`'s body (the identity travels in Basic Auth).
#[derive(Deserialize)]
pub struct ActivateRequest {
    /// `CODE_DIGITS` digits, or `HARDENED_CODE_DIGITS`.
    pub code: String,
}

/// A claim waiting for its code (201 to `/register`, 202 to `/resend`).
#[derive(Serialize)]
pub struct Pending<'a> {
    /// Normalized.
    pub email: &'a str,
    /// Always `pending`.
    pub status: &'static str,
    /// Seconds the code stays valid (`CODE_TTL_SECONDS`).
    pub expires_in: u32,
}

/// An activated account (200 to `/activate`).
#[derive(Serialize)]
pub struct Activated<'a> {
    /// Normalized.
    pub email: &'a str,
    /// Always `active`.
    pub status: &'static str,
}

fn pending(status: u16, email: &Email, state: &AppState) -> Reply {
    let expires_in = state.config.claims.code_ttl_seconds;
    Reply::of(
        status,
        &Pending { email: email.as_str(), status: AccountStatus::Pending.as_str(), expires_in },
    )
}

/// `POST /register` `{"email", "password"}` → 201 `{"email", "status": "pending", "expires_in"}`.
pub fn register(request: &ApiRequest, state: &AppState) -> Result<Reply, Error> {
    let body: RegisterRequest = request.json()?;
    let email = Email::parse(&body.email).map_err(Error::InvalidEmail)?;
    let password = Password::parse(body.password).map_err(Error::InvalidPassword)?;
    flow::register(state, &request.context, &email, &password)?;
    Ok(pending(201, &email, state))
}

/// `POST /activate`, Basic Auth, `{"code"}` → 200 `{"email", "status": "active"}`.
///
/// Checks in contract order: body shape (400) → credentials (401) → state (410/422).
pub fn activate(request: &ApiRequest, state: &AppState) -> Result<Reply, Error> {
    let body: ActivateRequest = request.json()?;
    let lengths = state.config.claims.code_lengths;
    let code = VerificationCode::parse(&body.code, lengths)
        .map_err(|_| Error::InvalidCodeFormat { lengths })?;
    let credentials =
        parse_basic(request.authorization.as_deref()).ok_or(Error::BasicAuthRequired)?;
    let email =
        flow::activate(state, &request.context, &credentials.email, &credentials.password, &code)?;
    Ok(Reply::of(200, &Activated { email: email.as_str(), status: AccountStatus::Active.as_str() }))
}

/// `POST /resend`, Basic Auth, no body → 202 `{"email", "status": "pending", "expires_in"}`.
pub fn resend(request: &ApiRequest, state: &AppState) -> Result<Reply, Error> {
    let credentials =
        parse_basic(request.authorization.as_deref()).ok_or(Error::BasicAuthRequired)?;
    let email = flow::resend(state, &credentials.email, &credentials.password)?;
    Ok(pending(202, &email, state))
}
