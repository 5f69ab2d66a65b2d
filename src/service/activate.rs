//! `POST /activate`: PENDING → ACTIVE with Basic Auth and the mailed code.

use super::{AppState, credentials};
use crate::domain::activation::{ActivationOutcome, decide};
use crate::domain::{Email, VerificationCode};
use crate::error::Error;
use crate::service::limits;
use crate::store::{self, accounts::Status};

/// Activates the claim of the Basic Auth identity with `code`; returns the normalized email.
///
/// Credentials are checked first and outside any lock (seed truth #4: password and code are both
/// required; a wrong password never counts as a wrong code). Then one transaction locks the claim,
/// lets the domain decide, and applies the decision. An already active account with the right
/// password answers success without looking at the code (seed truth #11).
///
/// Wrong codes also count against the email's daily budget across claims; once it is used up, new
/// codes for the email are longer (see `limits::next_code_digits`), and activation goes on as
/// usual: never a lockout of the owner.
///
/// The password of anything but a pending claim counts against the login-failure limit
/// (`credentials::verify_claimant`): for an active account this endpoint tells a right password
/// from a wrong one.
///
/// Errors: 401 [`Error::InvalidCredentials`], 422 [`Error::WrongCode`], 410
/// [`Error::AttemptsExhausted`] or [`Error::CodeExpired`] (claim deleted), 429
/// [`Error::RateLimited`], 503.
pub fn activate(
    state: &AppState,
    email: &str,
    password: &str,
    code: &VerificationCode,
) -> Result<Email, Error> {
    let (email, stored) = credentials::verify_claimant(state, email, password)?;
    if stored.status == Status::Active {
        return Ok(email);
    }
    let mut client = store::checkout(&state.pool)?;
    let mut tx = client.begin()?;
    let Some((status, snapshot)) = store::accounts::lock_claim(&mut tx, &stored, code)? else {
        // Released or replaced between the password check and the lock: no such identity now.
        return Err(Error::InvalidCredentials);
    };
    if status == Status::Active {
        return Ok(email); // a concurrent request with the right code won
    }
    let outcome = decide(snapshot, state.config.max_code_attempts);
    store::accounts::apply_outcome(&mut tx, stored.id, outcome)?;
    if outcome == ActivationOutcome::Activate {
        store::audit::record(&mut tx, Some(stored.id), Some(stored.id), "activated", None)?;
    }
    tx.commit()?;
    drop(client);
    if matches!(outcome, ActivationOutcome::WrongCode { .. } | ActivationOutcome::Exhausted) {
        limits::count_wrong_code(state, &email)?;
    }
    match outcome {
        ActivationOutcome::Activate => Ok(email),
        ActivationOutcome::WrongCode { attempts_remaining } => {
            Err(Error::WrongCode { attempts_remaining })
        }
        ActivationOutcome::Exhausted => Err(Error::AttemptsExhausted),
        ActivationOutcome::Expired => Err(Error::CodeExpired),
    }
}
