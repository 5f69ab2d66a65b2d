//! `POST /login` and `POST /logout`: opaque, revocable sessions.

use super::{AppState, credentials, limits};
use crate::domain::{Email, SessionToken};
use crate::error::Error;
use crate::store::{self, accounts::Status};

/// Logs in with email and password and returns a new session token.
///
/// Order: the email's failure budget (429, even for the right password) → bcrypt verification →
/// state. Unknown email, malformed input, wrong password and an expired claim are one answer,
/// 401, after one bcrypt verification each, and each counts as a failure for that email, known or
/// not (so 429 enumerates nothing). Only the right password for an unexpired claim learns 403
/// `not_activated`. The session is created only if the account still holds the password that was
/// checked (credential version) and still exists; otherwise 401 as for a wrong password.
pub fn login(state: &AppState, email: &str, password: &str) -> Result<SessionToken, Error> {
    let parsed = Email::parse(email).ok();
    if let Some(email) = &parsed {
        limits::ensure_login_budget(state, email)?;
    }
    let failed = |state: &AppState| -> Error {
        match parsed.as_ref().map(|email| limits::count_login_failure(state, email)) {
            Some(Err(error)) => error,
            _ => Error::LoginFailed,
        }
    };
    let stored = match credentials::verify(state, email, password) {
        Ok((_, stored)) => stored,
        Err(Error::InvalidCredentials) => return Err(failed(state)),
        Err(other) => return Err(other),
    };
    match stored.status {
        Status::Pending if stored.claim_expired => Err(failed(state)),
        Status::Pending => Err(Error::NotActivated),
        Status::Active => {
            let token = SessionToken::generate()?;
            let mut client = store::checkout(&state.pool)?;
            let created = store::sessions::create(
                &mut client,
                stored.id,
                stored.credential_version,
                &token,
                state.config.session_ttl_seconds,
            )?;
            // Deleted, or given a new password, since the check: that password opens nothing.
            created.then_some(token).ok_or(Error::LoginFailed)
        }
    }
}

/// Revokes the session. Errors: 401 [`Error::InvalidToken`] if it was not a valid session.
pub fn logout(state: &AppState, token: &SessionToken) -> Result<(), Error> {
    if store::sessions::revoke(&mut *store::checkout(&state.pool)?, token)? {
        Ok(())
    } else {
        Err(Error::InvalidToken)
    }
}
