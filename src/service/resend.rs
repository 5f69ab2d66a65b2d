//! `POST /resend`: a new code for a pending claim, under Basic Auth.

use super::{AppState, credentials, limits};
use crate::domain::activation::decide_resend;
use crate::domain::code::code_salt;
use crate::domain::{Email, ResendOutcome, VerificationCode};
use crate::error::Error;
use crate::store::{self, accounts, accounts::Status};

/// Mails a new code for the Basic Auth identity's pending claim and returns its normalized email: the old code stops working, the
/// window restarts, wrong attempts are kept, at most `MAX_RESENDS` per claim.
///
/// The new code is committed first and mailed after (failure scenario 2); if the mail budget is
/// used up or the mail cannot be delivered, the previous code, window and resend count are put
/// back, so the claim is exactly as before. The password of anything but a pending claim counts
/// against the login-failure limit (`credentials::verify_claimant`). Errors: 401, 409
/// [`Error::AlreadyActive`], 410
/// [`Error::CodeExpired`] (claim deleted), 429 [`Error::TooManyResends`] or
/// [`Error::RateLimited`], 503 [`Error::MailUnavailable`].
pub fn resend(state: &AppState, email: &str, password: &str) -> Result<Email, Error> {
    let (email, stored) = credentials::verify_claimant(state, email, password)?;
    if stored.status == Status::Active {
        return Err(Error::AlreadyActive);
    }
    let config = &state.config;
    let code = VerificationCode::generate(limits::next_code_digits(state, &email)?)?;
    let salt = code_salt()?;

    let mut client = store::checkout(&state.pool)?;
    let mut tx = client.begin()?;
    let claim = accounts::lock_for_resend(&mut tx, &stored)?.ok_or(Error::InvalidCredentials)?;
    if claim.status == Status::Active {
        return Err(Error::AlreadyActive);
    }
    match decide_resend(claim.expired, claim.resends, config.max_resends) {
        ResendOutcome::Expired => {
            accounts::delete_claim(&mut tx, stored.id)?;
            tx.commit()?;
            return Err(Error::CodeExpired);
        }
        ResendOutcome::TooMany => {
            return Err(Error::TooManyResends { retry_after_seconds: claim.seconds_left });
        }
        ResendOutcome::Resend => {
            accounts::replace_code(&mut tx, stored.id, &code, &salt, config.code_ttl_seconds)?;
            tx.commit()?;
        }
    }
    drop(client);

    let sent = super::deliver_code(state, &email, &code, "resend");
    if let Err(error) = sent {
        accounts::restore_code(
            &mut *store::checkout(&state.pool)?,
            stored.id,
            &salt,
            &claim.previous,
        )?;
        return Err(error);
    }
    Ok(email)
}
