//! `POST /password/forgot` and `POST /password/reset`: their requests and answers, and the
//! handlers.

use super::flow;
use crate::api::{ApiRequest, Reply};
use crate::app::AppState;
use crate::domain::{Email, Password, VerificationCode};
use crate::error::Error;
use serde::{Deserialize, Serialize};

/// `POST /password/forgot` (and `POST /login/code`).
#[derive(Deserialize)]
pub struct CodeRequest {
    /// Whose mailbox gets the code, if it is an active account.
    pub email: String,
}

/// `POST /password/reset`.
#[derive(Deserialize)]
pub struct ResetRequest {
    /// The account's address.
    pub email: String,
    /// The mailed code.
    pub code: String,
    /// Same policy as at registration.
    pub new_password: String,
}

/// The answer to every well-formed request for a mailed code, whatever the email is.
#[derive(Serialize)]
pub struct Accepted {
    /// Always `accepted`.
    pub status: &'static str,
}

/// 202 `{"status": "accepted"}`.
pub fn accepted() -> Reply {
    Reply::of(202, &Accepted { status: "accepted" })
}

/// A mailed code of exactly `RESET_CODE_DIGITS` digits (reset, sign-in and email-change codes),
/// else 400 `invalid_code_format`.
pub fn mailed_code(raw: &str, state: &AppState) -> Result<VerificationCode, Error> {
    let digits = state.config.mailed_codes.digits;
    VerificationCode::parse_exact(raw, digits).map_err(|_| Error::InvalidResetCodeFormat { digits })
}

/// `POST /password/forgot` `{"email"}` → 202 `{"status": "accepted"}`, whatever the email is.
pub fn forgot(request: &ApiRequest, state: &AppState) -> Result<Reply, Error> {
    let body: CodeRequest = request.json()?;
    let email = Email::parse(&body.email).map_err(Error::InvalidEmail)?;
    flow::forgot(state, &request.context, &email)?;
    Ok(accepted())
}

/// `POST /password/reset` `{"email", "code", "new_password"}` → 204. Every malformed field is a
/// 400 before any code is evaluated; every failure of email and code is one 401 `invalid_code`.
pub fn reset(request: &ApiRequest, state: &AppState) -> Result<Reply, Error> {
    let body: ResetRequest = request.json()?;
    let email = Email::parse(&body.email).map_err(Error::InvalidEmail)?;
    let code = mailed_code(&body.code, state)?;
    let new = Password::parse(body.new_password).map_err(Error::InvalidPassword)?;
    flow::reset(state, &request.context, &email, &code, &new)?;
    Ok(Reply::no_content())
}
