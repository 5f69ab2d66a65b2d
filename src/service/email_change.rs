//! `POST /me/email` and `POST /me/email/confirm`: a new address proves itself with a mailed code
//! before it replaces the old one (OWASP ASVS V6.3: re-authentication and notice to the old
//! address).

use super::{AppState, account, limits};
use crate::domain::activation::{ActivationOutcome, decide};
use crate::domain::code::code_salt;
use crate::domain::{Email, Profile, SessionRef, VerificationCode};
use crate::error::Error;
use crate::mail::{
    email_change_code_message, email_change_requested_message, email_changed_message,
};
use crate::store::{self, accounts, email_changes};

/// A change of address waiting for its code.
#[derive(Debug)]
pub struct PendingChange {
    /// The address now.
    pub email: String,
    /// The address asked for, normalized.
    pub pending_email: String,
    /// Seconds the code stays valid (`EMAIL_CHANGE_TTL_SECONDS`).
    pub expires_in: u32,
}

/// Asks to change the session's account to `new_email`: checks the password, then queues a code
/// to the new address and a notice to the current one. A newer request replaces the older one.
///
/// Errors: 401, 400 [`Error::SameEmail`], 403 [`Error::WrongPassword`] (counts as a failed login),
/// 409 [`Error::EmailTaken`] (an account or a live claim holds the address; the confirmation
/// checks again), 429 (the login-failure limit, or the new mailbox's mail budget), 503.
pub fn request(
    state: &AppState,
    session: &SessionRef,
    new_email: &Email,
    password: &str,
) -> Result<PendingChange, Error> {
    let (account, email) = account::confirm(state, session, password)?;
    if email.as_str() == new_email.as_str() {
        return Err(Error::SameEmail);
    }
    if accounts::is_taken(&mut *store::checkout(&state.pool)?, new_email)? {
        return Err(Error::EmailTaken);
    }
    limits::count_mail_to(state, new_email)?;
    let ttl = state.config.email_change_ttl_seconds;
    let code = VerificationCode::generate(state.config.reset_code_digits)?;
    let salt = code_salt()?;
    let code_mail = email_change_code_message(new_email, code.expose(), ttl);
    let notice = email_change_requested_message(&email, new_email);
    let (id, version) = (account.account_id, account.credential_version);
    let mut client = store::checkout(&state.pool)?;
    let queued = email_changes::request(
        &mut client,
        id,
        version,
        new_email,
        &code,
        &salt,
        ttl,
        &code_mail,
        &notice,
    )?;
    if !queued {
        return Err(Error::InvalidToken); // the password changed meanwhile: this session is dead
    }
    state.outbox.wake();
    Ok(PendingChange {
        email: email.as_str().to_owned(),
        pending_email: new_email.as_str().to_owned(),
        expires_in: ttl,
    })
}

/// Confirms the pending change with `code`: the account moves to the new address (the database's
/// UNIQUE constraint decides a race with a registration of it), the old address is free, sessions
/// stay, and a notice goes to the old address. Returns the new profile.
///
/// Errors: 401, 409 [`Error::NoPendingChange`] | [`Error::EmailTaken`] (the change is cancelled),
/// 422 [`Error::WrongCode`], 410 [`Error::ChangeAttemptsExhausted`] | [`Error::ChangeCodeExpired`]
/// (the change is cancelled), 503.
pub fn confirm(
    state: &AppState,
    session: &SessionRef,
    code: &VerificationCode,
) -> Result<Profile, Error> {
    let mut client = store::checkout(&state.pool)?;
    let mut tx = client.begin()?;
    let account = store::sessions::lock_account(&mut tx, session)?.ok_or(Error::InvalidToken)?;
    let change = email_changes::lock(&mut tx, account, code)?.ok_or(Error::NoPendingChange)?;
    let id = change.account_id;
    let result = match decide(change.snapshot, state.config.max_reset_attempts) {
        ActivationOutcome::Activate => {
            let old = Email::parse(&change.email)
                .map_err(|_| Error::Internal("stored email does not parse".into()))?;
            let notice = email_changed_message(&old, &change.new_email);
            match email_changes::swap(&mut tx, id, &change.new_email, &notice) {
                Err(Error::EmailTaken) => {
                    drop(tx); // aborted by the unique violation: roll back, then cancel
                    email_changes::cancel(&mut *client, id)?;
                    return Err(Error::EmailTaken);
                }
                other => other,
            }
        }
        ActivationOutcome::WrongCode { attempts_remaining } => {
            email_changes::record_wrong_attempt(&mut tx, id)
                .and(Err(Error::WrongCode { attempts_remaining }))
        }
        ActivationOutcome::Exhausted => {
            email_changes::cancel(&mut tx, id).and(Err(Error::ChangeAttemptsExhausted))
        }
        ActivationOutcome::Expired => {
            email_changes::cancel(&mut tx, id).and(Err(Error::ChangeCodeExpired))
        }
    };
    if let Err(Error::Internal(_) | Error::Unavailable) = &result {
        return result;
    }
    tx.commit()?;
    if result.is_ok() {
        state.outbox.wake();
    }
    result
}
