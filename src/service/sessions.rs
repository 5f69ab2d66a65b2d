//! Login sessions: `POST /login`, `POST /token/refresh`, `POST /logout` and the session list.

use super::mfa::FirstFactor;
use super::{AppState, credentials, limits, tokens};
use crate::domain::{Email, MfaToken, RefreshToken, SessionRef};
use crate::error::Error;
use crate::store::accounts::{Status, StoredCredentials};
use crate::store::sessions::{Issued, Refreshed, SessionInfo};
use crate::store::{self};
use serde_json::json;

/// A signed-in client's credentials: a short-lived access token and the refresh token that
/// renews it.
pub struct TokenPair {
    /// The access JWT.
    pub access_token: String,
    /// Seconds until the access token expires (`ACCESS_TOKEN_TTL_SECONDS`).
    pub expires_in: u32,
    /// Opaque, single-use.
    pub refresh_token: RefreshToken,
}

/// What a right password gets.
pub enum Login {
    /// A new session and its first token pair.
    Tokens(TokenPair),
    /// The account has a second factor on: the code comes next, with this token
    /// (`POST /login/mfa`).
    MfaRequired(MfaToken),
}

/// Logs in with email and password: a new session (`amr` `["pwd"]`) and its first token pair,
/// or, with a second factor on, the mfa_token for the next step.
///
/// Order: one failure reserved against the email's budget (429 once it is used up, even for the
/// right password, with the sign-in code named as the way in that this limit does not block) →
/// bcrypt verification → state; the reservation is given back once the password was right.
/// Unknown email, malformed input, wrong password and an expired claim are one answer, 401,
/// after one bcrypt verification each, and each stays counted as a failure for that email, known
/// or not (so 429 enumerates nothing). Only the right password for an unexpired claim learns 403
/// `not_activated`. The session is created only if the account still holds the password that was
/// checked (credential version) and still exists; otherwise 401 as for a wrong password.
pub fn login(
    state: &AppState,
    email: &str,
    password: &str,
    user_agent: Option<&str>,
) -> Result<Login, Error> {
    let parsed = Email::parse(email).ok();
    let reservation = match &parsed {
        Some(email) => Some(limits::reserve_login_attempt(state, email).map_err(|e| match e {
            Error::RateLimited { retry_after_seconds } => {
                Error::LoginRateLimited { retry_after_seconds }
            }
            other => other,
        })?),
        None => None,
    };
    let stored = match credentials::verify(state, email, password) {
        Ok((_, stored)) if !(stored.status == Status::Pending && stored.claim_expired) => stored,
        Ok(_) | Err(Error::InvalidCredentials) => return Err(failed(state, parsed.as_ref())),
        Err(other) => {
            // No password was judged (database or bcrypt thread failed): nothing to count.
            if let Some(reservation) = reservation {
                reservation.release(state);
            }
            return Err(other);
        }
    };
    if let Some(reservation) = reservation {
        reservation.release(state); // the right password: not a failure
    }
    match stored.status {
        Status::Pending => Err(Error::NotActivated),
        Status::Active if stored.disabled => Err(Error::AccountDisabled),
        Status::Active if stored.second_factor => mfa_step(state, &stored, user_agent),
        Status::Active => match password_session(state, &stored, user_agent)? {
            Some(pair) => Ok(Login::Tokens(pair)),
            None => second_factor_since_check(state, &stored, parsed.as_ref(), user_agent),
        },
    }
}

/// The session insert found the account changed since its password was checked. If TOTP was
/// confirmed meanwhile, its code comes next; anything else (deleted, a new password): that
/// password opens nothing (401 as for a wrong one).
fn second_factor_since_check(
    state: &AppState,
    checked: &StoredCredentials,
    email: Option<&Email>,
    user_agent: Option<&str>,
) -> Result<Login, Error> {
    let email = email.ok_or(Error::LoginFailed)?;
    let now = store::accounts::find_credentials(&mut *store::checkout(&state.pool)?, email)?;
    match now {
        Some(now)
            if now.id == checked.id
                && now.credential_version == checked.credential_version
                && now.second_factor
                && !now.disabled =>
        {
            mfa_step(state, &now, user_agent)
        }
        _ => Err(Error::LoginFailed),
    }
}

/// A failed login: recorded in `email`'s audit trail if it is an account; the failure itself
/// was counted before the password was checked. Always [`Error::LoginFailed`] unless the
/// database fails.
fn failed(state: &AppState, email: Option<&Email>) -> Error {
    let Some(email) = email else { return Error::LoginFailed };
    let recorded = store::checkout(&state.pool)
        .and_then(|mut client| store::audit::record_login_failure(&mut *client, email));
    recorded.err().unwrap_or(Error::LoginFailed)
}

fn mfa_step(
    state: &AppState,
    stored: &StoredCredentials,
    user_agent: Option<&str>,
) -> Result<Login, Error> {
    let token = super::mfa::challenge(
        state,
        stored.id,
        stored.credential_version,
        FirstFactor::Password,
        user_agent,
    )?;
    Ok(Login::MfaRequired(token))
}

/// A password-only session, unless the account changed since its password was checked (`None`).
fn password_session(
    state: &AppState,
    stored: &StoredCredentials,
    user_agent: Option<&str>,
) -> Result<Option<TokenPair>, Error> {
    let refresh_token = RefreshToken::generate()?;
    let issued = store::sessions::create(
        &mut *store::checkout(&state.pool)?,
        stored.id,
        stored.credential_version,
        &["pwd"],
        user_agent,
        &refresh_token,
        state.config.session_ttl_seconds,
    )?;
    Ok(issued.map(|issued| pair(state, &issued, refresh_token)))
}

pub(super) fn pair(state: &AppState, issued: &Issued, refresh_token: RefreshToken) -> TokenPair {
    let (access_token, expires_in) = tokens::issue(state, issued);
    TokenPair { access_token, expires_in, refresh_token }
}

/// Exchanges a refresh token for a new pair; the presented one is spent (rotation).
///
/// Errors: 401 [`Error::InvalidToken`] for an unknown token, a dead session, a token spent within
/// `REFRESH_REUSE_GRACE_SECONDS` (two tabs racing: the session stays), and a token spent longer
/// ago: then the whole session is revoked and `refresh_token_reused` is logged for operators to
/// alert on (someone replays a stolen token, or the owner's client was copied).
pub fn refresh(state: &AppState, presented: &RefreshToken) -> Result<TokenPair, Error> {
    let next = RefreshToken::generate()?;
    let mut client = store::checkout(&state.pool)?;
    let mut tx = client.begin()?;
    let grace = state.config.refresh_reuse_grace_seconds;
    let outcome = store::sessions::refresh(&mut tx, presented, &next, grace)?;
    if matches!(outcome, Refreshed::Rotated(_) | Refreshed::Reused { .. }) {
        tx.commit()?; // otherwise nothing changes: a retry is not mistaken for a replay
    } else {
        drop(tx); // rolled back
    }
    drop(client);
    match outcome {
        Refreshed::Rotated(issued) => Ok(pair(state, &issued, next)),
        Refreshed::Reused { session_id, account_id } => {
            let fields = json!({"session_id": session_id, "account_id": account_id});
            crate::log::error("refresh_token_reused", fields);
            crate::http::metrics::METRICS.refresh_reuse();
            Err(Error::InvalidToken)
        }
        Refreshed::Invalid | Refreshed::SpentRecently => Err(Error::InvalidToken),
    }
}

/// Revokes the caller's own session (`POST /logout`). Errors: 401 if it was not live.
pub fn logout(state: &AppState, session: &SessionRef) -> Result<(), Error> {
    revoke_as(state, session, Some(session.id), "logout")
}

/// Revokes sessions of the caller's account: `Some(id)` that one (404 `not_found` if it is not
/// one of the caller's live sessions), `None` all but the caller's own. Errors: 401 when the
/// caller's session is not live.
pub fn revoke(state: &AppState, session: &SessionRef, which: Option<i64>) -> Result<(), Error> {
    revoke_as(state, session, which, "sessions_revoked")
}

/// [`revoke`], recorded in the audit trail as `action`.
fn revoke_as(
    state: &AppState,
    session: &SessionRef,
    which: Option<i64>,
    action: &str,
) -> Result<(), Error> {
    let mut client = store::checkout(&state.pool)?;
    match store::sessions::revoke(&mut client, session, which, action)? {
        (false, _) => Err(Error::InvalidToken),
        // A logout whose session another request ended while it waited: as if already gone.
        (true, 0) if which == Some(session.id) => Err(Error::InvalidToken),
        (true, 0) if which.is_some() => Err(Error::NotFound),
        (true, _) => Ok(()),
    }
}

/// The caller's account's live sessions, oldest first. Errors: 401 when the caller's is not live.
pub fn list(state: &AppState, session: &SessionRef) -> Result<Vec<SessionInfo>, Error> {
    let sessions = store::sessions::list(&mut *store::checkout(&state.pool)?, session)?;
    if sessions.is_empty() { Err(Error::InvalidToken) } else { Ok(sessions) }
}
