//! `POST /me/totp`, `POST /me/totp/confirm`, `DELETE /me/totp`: their requests and answers, and
//! the handlers.

use super::flow;
use crate::api::{ApiRequest, Reply};
use crate::app::AppState;
use crate::domain::{FactorCode, RecoveryCode, TotpCode};
use crate::error::Error;
use crate::features::account::api::PasswordConfirmation;
use crate::features::sessions::tokens::bearer;
use serde::{Deserialize, Serialize};

/// `POST /me/totp/confirm`.
#[derive(Deserialize)]
pub struct CodeRequest {
    /// The app's current code.
    pub code: String,
}

/// `DELETE /me/totp`.
#[derive(Deserialize)]
pub struct DisableRequest {
    /// The account's password (an account without one leaves it out and shows a recent sign-in).
    pub password: Option<String>,
    /// A TOTP code or a recovery code.
    pub code: String,
}

/// A started enrolment (200 to `POST /me/totp`).
#[derive(Serialize)]
pub struct Enrollment<'a> {
    /// The secret in base32.
    pub secret: &'a str,
    /// `otpauth://totp/…`, for an authenticator app.
    pub otpauth_uri: &'a str,
    /// The URI as a QR code (SVG markup).
    pub qr_svg: &'a str,
}

/// The recovery codes, shown once (200 to `POST /me/totp/confirm`).
#[derive(Serialize)]
pub struct RecoveryCodes {
    /// Ten codes, each usable once.
    pub recovery_codes: Vec<String>,
}

/// `POST /me/totp` `{"password"}` (Bearer) → 200 `{"secret", "otpauth_uri", "qr_svg"}`.
pub fn enroll(request: &ApiRequest, state: &AppState) -> Result<Reply, Error> {
    let body: PasswordConfirmation = request.json()?;
    let session = bearer(request, state)?;
    let new = flow::enroll(state, &request.context, &session, body.password.as_deref())?;
    let shown =
        Enrollment { secret: &new.secret, otpauth_uri: &new.otpauth_uri, qr_svg: &new.qr_svg };
    Ok(Reply::of(200, &shown))
}

/// `POST /me/totp/confirm` `{"code"}` (Bearer) → 200 `{"recovery_codes": [10 strings]}`.
pub fn confirm(request: &ApiRequest, state: &AppState) -> Result<Reply, Error> {
    let body: CodeRequest = request.json()?;
    let code = TotpCode::parse(&body.code).ok_or(Error::InvalidMfaCodeFormat)?;
    let codes = flow::confirm(state, &request.context, &bearer(request, state)?, &code)?;
    let recovery_codes = codes.iter().map(RecoveryCode::display).collect();
    Ok(Reply::of(200, &RecoveryCodes { recovery_codes }))
}

/// `DELETE /me/totp` `{"password", "code"}` (Bearer) → 204.
pub fn disable(request: &ApiRequest, state: &AppState) -> Result<Reply, Error> {
    let body: DisableRequest = request.json()?;
    let code = FactorCode::parse(&body.code).ok_or(Error::InvalidMfaCodeFormat)?;
    let session = bearer(request, state)?;
    flow::disable(state, &request.context, &session, body.password.as_deref(), &code)?;
    Ok(Reply::no_content())
}
