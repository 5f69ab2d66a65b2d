//! Checking an email + password pair without leaking which half was wrong.

use super::AppState;
use crate::domain::{Email, Password};
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
    let matches = password_matches(password, hash);
    match (email, stored) {
        (Some(email), Some(stored)) if matches => Ok((email, stored)),
        _ => Err(Error::InvalidCredentials),
    }
}

/// True when `candidate` is a well-formed password (8–72 bytes) whose bcrypt verification against
/// `hash` succeeds. A malformed candidate still costs one verification, of a placeholder, so its
/// answer takes as long as any other (no length oracle; cf. CVE-2025-22234). Over-long passwords
/// never reach bcrypt, which would silently compare only their first 72 bytes.
pub fn password_matches(candidate: &str, hash: &str) -> bool {
    match Password::parse_existing(candidate.to_owned()) {
        Ok(password) => bcrypt::verify(password.expose(), hash).unwrap_or(false),
        Err(_) => {
            let _ = bcrypt::verify("placeholder for a malformed password", hash);
            false
        }
    }
}
