//! Login sessions: `POST /login`, `POST /token/refresh`, `POST /logout` and the session list.

use super::{AppState, credentials, limits, tokens};
use crate::domain::{Email, MfaToken, RefreshToken, SessionRef};
use crate::error::Error;
use crate::store::sessions::{Issued, Refreshed, SessionInfo};
use crate::store::{self, accounts::Status};
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
/// Order: the email's failure budget (429, even for the right password) → bcrypt verification →
/// state. Unknown email, malformed input, wrong password and an expired claim are one answer,
/// 401, after one bcrypt verification each, and each counts as a failure for that email, known or
/// not (so 429 enumerates nothing). Only the right password for an unexpired claim learns 403
/// `not_activated`. The session is created only if the account still holds the password that was
/// checked (credential version) and still exists; otherwise 401 as for a wrong password.
pub fn login(
    state: &AppState,
    email: &str,
    password: &str,
    user_agent: Option<&str>,
) -> Result<Login, Error> {
    let parsed = Email::parse(email).ok();
    if let Some(email) = &parsed {
        limits::ensure_login_budget(state, email)?;
    }
    let failed = |state: &AppState| -> Error {
        let Some(email) = parsed.as_ref() else { return Error::LoginFailed };
        let recorded = store::checkout(&state.pool)
            .and_then(|mut client| store::audit::record_login_failure(&mut *client, email))
            .and_then(|()| limits::count_login_failure(state, email));
        recorded.err().unwrap_or(Error::LoginFailed)
    };
    let stored = match credentials::verify(state, email, password) {
        Ok((_, stored)) => stored,
        Err(Error::InvalidCredentials) => return Err(failed(state)),
        Err(other) => return Err(other),
    };
    match stored.status {
        Status::Pending if stored.claim_expired => Err(failed(state)),
        Status::Pending => Err(Error::NotActivated),
        Status::Active if stored.disabled => Err(Error::AccountDisabled),
        Status::Active if stored.second_factor => {
            let token =
                super::mfa::challenge(state, stored.id, stored.credential_version, user_agent)?;
            Ok(Login::MfaRequired(token))
        }
        Status::Active => {
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
            // Deleted, or given a new password, since the check: that password opens nothing.
            let issued = issued.ok_or(Error::LoginFailed)?;
            Ok(Login::Tokens(pair(state, &issued, refresh_token)))
        }
    }
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
        (true, 0) if which.is_some() => Err(Error::NotFound),
        (true, _) => Ok(()),
    }
}

/// The caller's account's live sessions, oldest first. Errors: 401 when the caller's is not live.
pub fn list(state: &AppState, session: &SessionRef) -> Result<Vec<SessionInfo>, Error> {
    let sessions = store::sessions::list(&mut *store::checkout(&state.pool)?, session)?;
    if sessions.is_empty() { Err(Error::InvalidToken) } else { Ok(sessions) }
}
