//! `POST /login/code` and `POST /login/code/verify`: their requests and answers, and the
//! handlers.

use super::flow;
use crate::api::{ApiRequest, Reply};
use crate::app::AppState;
use crate::domain::Email;
use crate::error::Error;
use crate::features::recovery::api::{CodeRequest, accepted, mailed_code};
use crate::features::sessions::api::login_reply;
use serde::Deserialize;

/// `POST /login/code/verify`.
#[derive(Deserialize)]
pub struct VerifyRequest {
    /// The account's address.
    pub email: String,
    /// The mailed code.
    pub code: String,
}

/// `POST /login/code` `{"email"}` → 202 `{"status": "accepted"}`, whatever the email is; an
/// active, enabled account is mailed a sign-in code.
pub fn request_code(request: &ApiRequest, state: &AppState) -> Result<Reply, Error> {
    let body: CodeRequest = request.json()?;
    let email = Email::parse(&body.email).map_err(Error::InvalidEmail)?;
    flow::request(state, &request.context, &email)?;
    Ok(accepted())
}

/// `POST /login/code/verify` `{"email", "code"}` → 200 the token pair (`amr` `["email"]`), or
/// with a second factor on, 200 `{"mfa_required": true, "mfa_token", "expires_in"}`. Malformed
/// fields are 400; every failure of email and code is one 401 `invalid_code`.
pub fn verify_code(request: &ApiRequest, state: &AppState) -> Result<Reply, Error> {
    let body: VerifyRequest = request.json()?;
    let email = Email::parse(&body.email).map_err(Error::InvalidEmail)?;
    let code = mailed_code(&body.code, state)?;
    let device = request.device();
    let login = flow::verify(state, &request.context, &email, &code, device.as_deref())?;
    Ok(login_reply(state, login))
}
