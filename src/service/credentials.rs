//! Checking an email + password pair without leaking which half was wrong.

use super::AppState;
use crate::domain::Email;
use crate::error::Error;
use crate::store::{self, accounts::StoredCredentials};

/// Looks up `email` and verifies `password` with bcrypt; returns the normalized email and the
/// stored row.
///
/// Every failure is [`Error::InvalidCredentials`] and costs one bcrypt verification, whether the
/// email is malformed or unknown, or the password is malformed (e.g. over 72 bytes) or wrong: no
/// enumeration through the body or the timing (failure scenarios 7 and 10; OWASP Authentication
/// Cheat Sheet, "authentication responses"). The pooled connection is returned before bcrypt runs.
pub fn verify(
    state: &AppState,
    email: &str,
    password: &str,
) -> Result<(Email, StoredCredentials), Error> {
    let email = Email::parse(email).ok();
    let stored = match &email {
        Some(email) => {
            store::accounts::find_credentials(&mut *store::checkout(&state.pool)?, email)?
        }
        None => None,
    };
    let hash = stored
        .as_ref()
        .map_or(state.dummy_hash.as_str(), |s| s.password_hash.as_str());
    let matches = state.hasher.verify(password, hash)?;
    match (email, stored) {
        (Some(email), Some(stored)) if matches => Ok((email, stored)),
        _ => Err(Error::InvalidCredentials),
    }
}
