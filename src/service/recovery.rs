//! `POST /password/forgot` and `POST /password/reset`: a forgotten password replaced with a code
//! mailed to the account's address (OWASP Forgot Password Cheat Sheet; NIST SP 800-63B §6.1.2.3).

use super::{AppState, limits};
use crate::domain::activation::{ActivationOutcome, decide};
use crate::domain::code::code_salt;
use crate::domain::{CodePurpose, Email, Password, VerificationCode};
use crate::error::Error;
use crate::hashing;
use crate::mail::{password_reset_message, reset_code_message, sign_in_code_message};
use crate::store::{self, mailed_codes};

/// Records a request to reset `email`'s password and answers alike whatever `email` is.
///
/// Every request does the same work: it counts one mail against the mailbox's
/// `RATE_LIMIT_EMAIL_PER_HOUR` (429 once used up, for unknown emails too: the limit tells nothing)
/// and inserts the request into a queue, then wakes the background worker. Whether the email is
/// an active account is first looked at by the worker ([`start_requested`]), after the answer:
/// neither the answer nor its timing can tell. Errors: 429, 503.
pub fn forgot(state: &AppState, email: &Email) -> Result<(), Error> {
    request_code(state, CodePurpose::PasswordReset, email)
}

/// Queues a request for a `purpose` code to `email` as [`forgot`] describes: one mail counted
/// against the mailbox's budget, one insert, the worker woken; the same work whatever `email` is.
pub fn request_code(state: &AppState, purpose: CodePurpose, email: &Email) -> Result<(), Error> {
    limits::count_mail_to(state, email)?;
    mailed_codes::queue_request(&mut *store::checkout(&state.pool)?, purpose, email)?;
    state.outbox.wake();
    Ok(())
}

/// Most requests one worker pass takes.
const REQUESTS_PER_PASS: i64 = 16;

/// Background worker: turns queued requests for mailed codes (forgot password, sign-in code)
/// into codes, in one transaction: for each, a fresh `RESET_CODE_DIGITS` code is stored and its
/// mail queued in the outbox, if and only if the email is an active, enabled account (a newer
/// request replaces the older code of the same purpose). Returns how many requests it took.
pub fn start_requested(state: &AppState) -> Result<usize, Error> {
    let ttl = state.config.reset_code_ttl_seconds;
    let mut client = store::checkout(&state.pool)?;
    let mut tx = client.begin()?;
    let requests = mailed_codes::claim_requests(&mut tx, REQUESTS_PER_PASS)?;
    for request in &requests {
        let code = VerificationCode::generate(state.config.reset_code_digits)?;
        let salt = code_salt()?;
        let Ok(to) = Email::parse(&request.email) else { continue };
        let mail = match request.purpose {
            CodePurpose::PasswordReset => reset_code_message(&to, code.expose(), ttl),
            CodePurpose::SignIn => sign_in_code_message(&to, code.expose(), ttl),
        };
        mailed_codes::start(&mut tx, request, &code, &salt, ttl, &mail)?;
    }
    tx.commit()?;
    Ok(requests.len())
}

/// Sets `new` as the password of `email` if `code` is its live reset code.
///
/// The new password is hashed first, so every attempt costs one bcrypt hash whether or not a reset
/// exists (no timing oracle, and guessing is as slow as logging in). Then one transaction locks the
/// reset row, so parallel guesses queue and never exceed `MAX_RESET_ATTEMPTS`; the domain decides as
/// for an activation. On success the same transaction sets the password, revokes every session,
/// consumes the code, cancels a pending change of email and queues a notice.
///
/// Errors: 401 [`Error::InvalidCode`] for every failure of email and code (unknown email, no code,
/// wrong, expired, used up; the `MAX_RESET_ATTEMPTS`th wrong code deletes the reset), 503.
pub fn reset(
    state: &AppState,
    email: &Email,
    code: &VerificationCode,
    new: &Password,
) -> Result<(), Error> {
    let new_hash = hashing::hash(new, state.config.bcrypt_cost)?;
    let mut client = store::checkout(&state.pool)?;
    let mut tx = client.begin()?;
    let Some(account_id) = store::accounts::lock_active(&mut tx, email)? else {
        return Err(Error::InvalidCode);
    };
    let purpose = CodePurpose::PasswordReset;
    let Some(snapshot) = mailed_codes::lock(&mut tx, account_id, purpose, code)? else {
        return Err(Error::InvalidCode);
    };
    let outcome = decide(snapshot, state.config.max_reset_attempts);
    match outcome {
        ActivationOutcome::Activate => {
            mailed_codes::complete(&mut tx, account_id, &new_hash, &password_reset_message(email))?
        }
        ActivationOutcome::WrongCode { .. } => {
            mailed_codes::record_wrong_attempt(&mut tx, account_id, purpose)?
        }
        ActivationOutcome::Exhausted | ActivationOutcome::Expired => {
            mailed_codes::delete(&mut tx, account_id, purpose)?
        }
    }
    tx.commit()?;
    if outcome != ActivationOutcome::Activate {
        return Err(Error::InvalidCode);
    }
    state.outbox.wake();
    Ok(())
}
