//! Handlers of the second factor: enrol, confirm, turn off.

use super::bearer;
use crate::domain::{FactorCode, RecoveryCode, TotpCode};
use crate::error::Error;
use crate::http::request::{json_object, read_body, string_field};
use crate::http::response::Reply;
use crate::service::{AppState, totp};
use serde_json::json;
use tiny_http::Request;

/// `POST /me/totp` `{"password"}` (Bearer) → 200 `{"secret", "otpauth_uri"}`.
pub fn enroll(request: &mut Request, state: &AppState) -> Result<Reply, Error> {
    let body = json_object(&read_body(request)?)?;
    let password = string_field(&body, "password")?;
    let new = totp::enroll(state, &bearer(request, state)?, &password)?;
    Ok(Reply::json(
        200,
        json!({"secret": new.secret, "otpauth_uri": new.otpauth_uri, "qr_svg": new.qr_svg}),
    ))
}

/// `POST /me/totp/confirm` `{"code"}` (Bearer) → 200 `{"recovery_codes": [10 strings]}`.
pub fn confirm(request: &mut Request, state: &AppState) -> Result<Reply, Error> {
    let body = json_object(&read_body(request)?)?;
    let code = TotpCode::parse(&string_field(&body, "code")?).ok_or(Error::InvalidMfaCodeFormat)?;
    let codes = totp::confirm(state, &bearer(request, state)?, &code)?;
    let shown: Vec<String> = codes.iter().map(RecoveryCode::display).collect();
    Ok(Reply::json(200, json!({ "recovery_codes": shown })))
}

/// `DELETE /me/totp` `{"password", "code"}` (Bearer) → 204.
pub fn disable(request: &mut Request, state: &AppState) -> Result<Reply, Error> {
    let body = json_object(&read_body(request)?)?;
    let password = string_field(&body, "password")?;
    let code =
        FactorCode::parse(&string_field(&body, "code")?).ok_or(Error::InvalidMfaCodeFormat)?;
    totp::disable(state, &bearer(request, state)?, &password, &code)?;
    Ok(Reply::no_content())
}
