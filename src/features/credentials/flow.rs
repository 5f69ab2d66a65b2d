//! Checking an email + password pair without leaking which half was wrong.

use super::sql::{self, StoredCredentials};
use crate::app::AppState;
use crate::db;
use crate::domain::AccountStatus;
use crate::domain::password::hash_cost;
use crate::domain::{Email, Password};
use crate::error::Error;
use crate::features::rate_limits::flow as limits;
use crate::security::hashing::{self, Verified};
use crate::telemetry::log;
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Looks up `email` and verifies `password` with bcrypt; returns the normalized email and the
/// stored row.
///
/// Every failure is [`Error::InvalidCredentials`] and costs one bcrypt verification, whether the
/// email is malformed or unknown, or the password is malformed (e.g. over 72 bytes) or wrong: no
/// enumeration through the body or the timing (failure scenarios 7 and 10; OWASP Authentication
/// Cheat Sheet, "authentication responses"). The pooled connection is returned before bcrypt runs.
/// A stale hash is upgraded on success (see [`check_password`]). The caller owns the
/// login-failure budget (`POST /login` reserves before calling).
pub fn verify(
    state: &AppState,
    email: &str,
    password: &str,
) -> Result<(Email, StoredCredentials), Error> {
    let (email, stored) = look_up(state, email)?;
    check(state, email, stored, password)
}

/// [`verify`] for `POST /activate` and `POST /resend`, which answer differently for the right and
/// a wrong password of an active account (200 or 409 against 401): unless the identity is a
/// pending claim, the check reserves one failure in the email's
/// `LOGIN_FAILURES_PER_ACCOUNT_PER_HOUR` before bcrypt and gives it back when the password was
/// right, so these endpoints are no way around the login limit (contract v3: at most that many
/// wrong passwords per account are ever evaluated per hour). Unknown emails are counted too, as
/// at `/login`. A pending claim is exempt: its password was chosen minutes ago by whoever
/// registered, and counting it would let anyone keep the owner from activating.
///
/// Errors: as [`verify`], and 429 [`Error::RateLimited`] once the budget is used up.
pub fn verify_claimant(
    state: &AppState,
    email: &str,
    password: &str,
) -> Result<(Email, StoredCredentials), Error> {
    let (email, stored) = look_up(state, email)?;
    let pending = stored.as_ref().is_some_and(|s| s.status == AccountStatus::Pending);
    let reservation = match &email {
        Some(email) if !pending => limits::reserve_login_attempt(state, email)?,
        _ => limits::Reservation::nothing(),
    };
    let verified = check(state, email, stored, password);
    reservation.settle(state, matches!(verified, Err(Error::InvalidCredentials)));
    verified
}

/// The parsed email and its stored row, if both exist.
fn look_up(
    state: &AppState,
    email: &str,
) -> Result<(Option<Email>, Option<StoredCredentials>), Error> {
    let email = Email::parse(email).ok();
    let stored = match &email {
        Some(email) => sql::find_credentials(&mut *db::checkout(&state.pool)?, email)?,
        None => None,
    };
    Ok((email, stored))
}

/// One bcrypt verification of `password`, against the stored hash or the dummy one.
fn check(
    state: &AppState,
    email: Option<Email>,
    stored: Option<StoredCredentials>,
    password: &str,
) -> Result<(Email, StoredCredentials), Error> {
    let hash = stored.as_ref().map_or(state.dummy_hash.as_str(), |s| s.password_hash.as_str());
    let verified = verify_evenly(state, password, hash)?;
    match (email, stored) {
        (Some(email), Some(stored)) if verified != Verified::No => {
            upgrade_if_stale(state, stored.id, password, &stored.password_hash, verified);
            Ok((email, stored))
        }
        _ => Err(Error::InvalidCredentials),
    }
}

/// True when `password` matches account `id`'s `hash`; a stale hash is upgraded on success.
/// Errors: no bcrypt thread could be started (500).
pub fn check_password(
    state: &AppState,
    id: i64,
    password: &str,
    hash: &str,
) -> Result<bool, Error> {
    let verified = verify_evenly(state, password, hash)?;
    upgrade_if_stale(state, id, password, hash, verified);
    Ok(verified != Verified::No)
}

/// How long the latest verification at `BCRYPT_COST` took, nanoseconds (0: none yet).
static FULL_COST_NANOS: AtomicU64 = AtomicU64::new(0);

/// [`hashing::verify`], taking at least as long as a verification at `BCRYPT_COST` (the dummy
/// hash's, which unknown emails get): a hash made cheaper (an imported `$2a$10$`, an Argon2id, a
/// hash from before `BCRYPT_COST` was raised) would otherwise tell which emails are accounts
/// until its owner signs in (failure scenarios 7 and 10). The wait is a sleep to the latest
/// full-cost verification's time; before any has run, the dummy hash is verified instead. Both
/// times leave out the wait for a turn to run bcrypt, which depends on the load only.
fn verify_evenly(state: &AppState, password: &str, hash: &str) -> Result<Verified, Error> {
    let (verified, took) = hashing::verify_timed(password, hash)?;
    if hash_cost(hash) == Some(state.config.credentials.bcrypt_cost) {
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        FULL_COST_NANOS.store(nanos, Ordering::Relaxed);
        return Ok(verified);
    }
    match FULL_COST_NANOS.load(Ordering::Relaxed) {
        0 => {
            hashing::verify(password, &state.dummy_hash)?;
        }
        full => std::thread::sleep(Duration::from_nanos(full).saturating_sub(took)),
    }
    Ok(verified)
}

/// After a successful check: re-hashes the password at `BCRYPT_COST` when the stored hash was
/// made at another cost or from the password as typed rather than normalized.
///
/// Why: after an operator raises `BCRYPT_COST`, old hashes verify faster than the dummy hash
/// that unknown emails are checked against, which tells which emails exist; each account stops
/// telling at its next successful password check (one extra hash, once). The password stays the
/// same, so the credential version and every session stay. A failure is logged, never fatal.
fn upgrade_if_stale(state: &AppState, id: i64, password: &str, hash: &str, verified: Verified) {
    let stale = verified == Verified::AsTyped
        || (verified == Verified::Yes
            && hash_cost(hash) != Some(state.config.credentials.bcrypt_cost));
    if !stale {
        return;
    }
    let Ok(normalized) = Password::parse_existing(password.to_owned()) else {
        return; // the normalized form would break the length rule: keep the old hash
    };
    let upgraded =
        hashing::hash(&normalized, state.config.credentials.bcrypt_cost).and_then(|new_hash| {
            let mut client = db::checkout(&state.pool)?;
            sql::upgrade_hash(&mut client, id, hash, &new_hash)
        });
    if let Err(e) = upgraded {
        log::error("rehash_failed", json!({"error": e.to_string()}));
    }
}
