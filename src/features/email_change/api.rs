//! `POST /me/email` and `POST /me/email/confirm`: their requests and answers, and the handlers.

use super::flow;
use crate::api::{ApiRequest, Reply};
use crate::app::AppState;
use crate::domain::Email;
use crate::error::Error;
use crate::features::account::api::profile_reply;
use crate::features::recovery::api::mailed_code;
use crate::features::sessions::tokens::bearer;
use serde::{Deserialize, Serialize};

/// `POST /me/email`.
#[derive(Deserialize)]
pub struct ChangeRequest {
    /// The address to move to.
    pub new_email: String,
    /// The account's password (an account without one leaves it out and shows a recent sign-in).
    pub password: Option<String>,
}

/// `POST /me/email/confirm`.
#[derive(Deserialize)]
pub struct ConfirmRequest {
    /// The code mailed to the new address.
    pub code: String,
}

/// A change waiting for its code (202 to `POST /me/email`).
#[derive(Serialize)]
pub struct PendingChange<'a> {
    /// The address now.
    pub email: &'a str,
    /// The address asked for, normalized.
    pub pending_email: &'a str,
    /// Seconds the code stays valid (`EMAIL_CHANGE_TTL_SECONDS`).
    pub expires_in: u32,
}

/// `POST /me/email` `{"new_email", "password"}` (Bearer) → 202 `{"email", "pending_email",
/// "expires_in"}`.
pub fn change_email(request: &ApiRequest, state: &AppState) -> Result<Reply, Error> {
    let body: ChangeRequest = request.json()?;
    let new_email = Email::parse(&body.new_email).map_err(Error::InvalidEmail)?;
    let session = bearer(request, state)?;
    let pending =
        flow::request(state, &request.context, &session, &new_email, body.password.as_deref())?;
    Ok(Reply::of(
        202,
        &PendingChange {
            email: pending.email.as_str(),
            pending_email: pending.pending_email.as_str(),
            expires_in: pending.expires_in,
        },
    ))
}

/// `POST /me/email/confirm` `{"code"}` (Bearer) → 200 the profile with the new email.
pub fn confirm_email(request: &ApiRequest, state: &AppState) -> Result<Reply, Error> {
    let body: ConfirmRequest = request.json()?;
    let code = mailed_code(&body.code, state)?;
    let profile = flow::confirm(state, &request.context, &bearer(request, state)?, &code)?;
    Ok(profile_reply(&profile))
}
