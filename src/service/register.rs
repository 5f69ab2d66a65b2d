//! `POST /register`: AVAILABLE → PENDING, then the code goes out by mail.

use super::AppState;
use crate::domain::code::code_salt;
use crate::domain::{Email, Password, VerificationCode};
use crate::error::Error;
use crate::hashing;
use crate::service::limits;
use crate::store::{self, accounts};

/// Claims `email` with `password` and mails a fresh code.
///
/// Order: taken? (409) → mail budget left? (429; both before spending a bcrypt hash) → hash →
/// code length (hardened while the email's wrong-code budget is spent) → commit the claim → count the mail → send it → if the budget
/// was used up meanwhile or the mail fails, delete the claim again (failure scenario 2,
/// "persistence ghost"). Only a committed claim counts as a mail, so losers of a race spend none. Errors: [`Error::RateLimited`],
/// [`Error::EmailTaken`], [`Error::MailUnavailable`] (503, no claim left behind),
/// [`Error::Unavailable`] (503, database).
pub fn register(state: &AppState, email: &Email, password: &Password) -> Result<(), Error> {
    let config = &state.config;
    if accounts::is_taken(&mut *store::checkout(&state.pool)?, email)? {
        return Err(Error::EmailTaken);
    }
    limits::ensure_mail_budget(state, email)?;
    let password_hash = hashing::hash(password, config.bcrypt_cost)?;
    let code = VerificationCode::generate(limits::next_code_digits(state, email)?)?;
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

    if let Err(error) = super::deliver_code(state, email, &code, "verification") {
        accounts::delete_undelivered_claim(&mut *store::checkout(&state.pool)?, id, &salt)?;
        return Err(error);
    }
    Ok(())
}
