//! `POST /register`: AVAILABLE → PENDING, then the code goes out by mail.

use super::AppState;
use crate::domain::code::code_salt;
use crate::domain::{Email, Password, VerificationCode};
use crate::error::Error;
use crate::mail::verification_message;
use crate::store::{self, accounts};
use serde_json::json;

/// Claims `email` with `password` and mails a fresh code.
///
/// Order (failure scenario 2, "persistence ghost"): hash → commit the claim → mail → on mail
/// failure delete the claim again. Errors: [`Error::EmailTaken`] (409), [`Error::MailUnavailable`]
/// (503, no claim left behind), [`Error::Unavailable`] (503, database).
pub fn register(state: &AppState, email: &Email, password: &Password) -> Result<(), Error> {
    let config = &state.config;
    if accounts::is_taken(&mut *store::checkout(&state.pool)?, email)? {
        return Err(Error::EmailTaken);
    }
    let password_hash = bcrypt::hash(password.expose(), config.bcrypt_cost)?;
    let code = VerificationCode::generate(config.code_digits)?;
    let salt = code_salt()?;
    let id = accounts::insert_claim(
        &mut *store::checkout(&state.pool)?,
        email,
        &password_hash,
        &code,
        &salt,
        config.code_ttl_seconds,
    )?
    .ok_or(Error::EmailTaken)?;

    let message = verification_message(email, code.expose(), config.code_ttl_seconds);
    if let Err(e) = state.mailer.send(&message) {
        crate::log::error(
            "mail_failed",
            json!({"kind": "verification", "error": e.to_string()}),
        );
        accounts::delete_undelivered_claim(&mut *store::checkout(&state.pool)?, id, &salt)?;
        return Err(Error::MailUnavailable);
    }
    Ok(())
}
