//! Login sessions: `POST /login`, `POST /token/refresh`, `POST /logout` and the session list.

use super::decide::{RefreshDecision, decide_refresh};
use super::mfa::{self, FirstFactor};
use super::sql::{self, SessionInfo};
use super::tokens::{self, Login, NewSession, TokenPair};
use crate::app::AppState;
use crate::context::Context;
use crate::db;
use crate::domain::{AccountStatus, AuditAction, Email, RefreshToken, SessionRef};
use crate::error::Error;
use crate::features::credentials::flow as credentials;
use crate::features::credentials::sql::{self as credentials_sql, StoredCredentials};
use crate::features::rate_limits::flow as limits;
use crate::telemetry::log;
use crate::telemetry::metrics::METRICS;
use crate::uow::{Subject, UnitOfWork};
use serde_json::json;

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
    ctx: &Context,
    email: &str,
    password: &str,
    user_agent: Option<String>,
) -> Result<Login, Error> {
    let user_agent = user_agent.as_deref();
    let parsed = Email::parse(email).ok();
    let reservation = match &parsed {
        Some(email) => limits::reserve_login_attempt(state, email).map_err(|e| match e {
            Error::RateLimited { retry_after_seconds } => {
                Error::LoginRateLimited { retry_after_seconds }
            }
            other => other,
        })?,
        None => limits::Reservation::nothing(),
    };
    let verified = credentials::verify(state, email, password);
    // A right password for a claim whose window has passed opens nothing: a failure too.
    let wrong = match &verified {
        Ok((_, stored)) => expired_claim(stored),
        Err(error) => *error == Error::InvalidCredentials,
    };
    reservation.settle(state, wrong);
    let stored = match verified {
        Ok((_, stored)) if !wrong => stored,
        Ok(_) | Err(Error::InvalidCredentials) => return Err(failed(state, ctx, parsed.as_ref())),
        Err(other) => return Err(other),
    };
    match stored.status {
        AccountStatus::Pending => Err(Error::NotActivated),
        AccountStatus::Active if stored.disabled => Err(Error::AccountDisabled),
        AccountStatus::Active if stored.second_factor => mfa_step(state, ctx, &stored, user_agent),
        AccountStatus::Active => match password_session(state, ctx, &stored, user_agent)? {
            Some(pair) => Ok(Login::Tokens(pair)),
            None => second_factor_since_check(state, ctx, &stored, parsed.as_ref(), user_agent),
        },
    }
}

/// A claim whose window has passed: its right password opens nothing (401, like a wrong one).
fn expired_claim(stored: &StoredCredentials) -> bool {
    stored.status == AccountStatus::Pending && stored.claim_expired
}

/// The session insert found the account changed since its password was checked. If TOTP was
/// confirmed meanwhile, its code comes next; anything else (deleted, a new password): that
/// password opens nothing (401 as for a wrong one).
fn second_factor_since_check(
    state: &AppState,
    ctx: &Context,
    checked: &StoredCredentials,
    email: Option<&Email>,
    user_agent: Option<&str>,
) -> Result<Login, Error> {
    let email = email.ok_or(Error::LoginFailed)?;
    let now = credentials_sql::find_credentials(&mut *db::checkout(&state.pool)?, email)?;
    match now {
        Some(now)
            if now.id == checked.id
                && now.credential_version == checked.credential_version
                && now.second_factor
                && !now.disabled =>
        {
            mfa_step(state, ctx, &now, user_agent)
        }
        _ => Err(Error::LoginFailed),
    }
}

/// A failed login: recorded in `email`'s audit trail if it is an account (an unknown address has
/// no trail); the failure itself was counted before the password was checked. Always
/// [`Error::LoginFailed`] unless the database fails.
fn failed(state: &AppState, ctx: &Context, email: Option<&Email>) -> Error {
    let Some(email) = email else { return Error::LoginFailed };
    let recorded = db::checkout(&state.pool).and_then(|mut client| {
        let mut uow = UnitOfWork::begin(&mut client, ctx)?;
        uow.record(Subject::Email(email.clone()), None, AuditAction::LoginFailed);
        uow.commit(state)
    });
    recorded.err().unwrap_or(Error::LoginFailed)
}

fn mfa_step(
    state: &AppState,
    ctx: &Context,
    stored: &StoredCredentials,
    user_agent: Option<&str>,
) -> Result<Login, Error> {
    let mut client = db::checkout(&state.pool)?;
    let mut uow = UnitOfWork::begin(&mut client, ctx)?;
    let (id, version) = (stored.id, stored.credential_version);
    let first = FirstFactor::Password;
    let token = mfa::challenge(uow.tx(), state, id, version, first, user_agent)?;
    uow.commit(state)?;
    Ok(Login::MfaRequired(token))
}

/// A password-only session, unless the account changed since its password was checked (`None`).
fn password_session(
    state: &AppState,
    ctx: &Context,
    stored: &StoredCredentials,
    user_agent: Option<&str>,
) -> Result<Option<TokenPair>, Error> {
    let mut client = db::checkout(&state.pool)?;
    let mut uow = UnitOfWork::begin(&mut client, ctx)?;
    let new = NewSession { account_id: stored.id, credential_version: stored.credential_version };
    let Some((issued, refresh_token)) = tokens::start(&mut uow, state, new, &["pwd"], user_agent)?
    else {
        return Ok(None);
    };
    uow.commit(state)?;
    Ok(Some(tokens::pair(state, &issued, refresh_token)))
}

/// Exchanges a refresh token for a new pair; the presented one is spent (rotation). The session
/// is locked, the token's state read, [`decide_refresh`] says what happens, and it is applied.
///
/// Errors: 401 [`Error::InvalidToken`] for an unknown token, a dead session, a token spent within
/// `REFRESH_REUSE_GRACE_SECONDS` (two tabs racing: the session stays), and a token spent longer
/// ago: then the whole session is revoked and `refresh_token_reused` is logged for operators to
/// alert on (someone replays a stolen token, or the owner's client was copied).
pub fn refresh(
    state: &AppState,
    ctx: &Context,
    presented: &RefreshToken,
) -> Result<TokenPair, Error> {
    let next = RefreshToken::generate()?;
    let mut client = db::checkout(&state.pool)?;
    let mut uow = UnitOfWork::begin(&mut client, ctx)?;
    // Anything but a rotation or a revocation rolls back: a retry is not mistaken for a replay.
    let Some(token) = sql::lock_presented(uow.tx(), presented)? else {
        return Err(Error::InvalidToken);
    };
    let grace = state.config.sessions.refresh_reuse_grace_seconds;
    match decide_refresh(token.spent_seconds_ago, grace) {
        RefreshDecision::Rotate => {
            let issued = sql::rotate(uow.tx(), presented, &next)?.ok_or(Error::InvalidToken)?;
            uow.commit(state)?;
            Ok(tokens::pair(state, &issued, next))
        }
        RefreshDecision::Refuse => Err(Error::InvalidToken),
        RefreshDecision::RevokeSession => {
            let (session_id, account_id) = (token.session_id, token.account_id);
            sql::delete_session(uow.tx(), session_id)?;
            let details = json!({ "session_id": session_id });
            let subject = Subject::Account(account_id);
            uow.record_with(subject, None, AuditAction::RefreshTokenReused, details);
            uow.commit(state)?;
            let fields = json!({"session_id": session_id, "account_id": account_id});
            log::error("refresh_token_reused", fields);
            METRICS.refresh_reuse();
            Err(Error::InvalidToken)
        }
    }
}

/// Revokes the caller's own session (`POST /logout`). Errors: 401 if it was not live.
pub fn logout(state: &AppState, ctx: &Context, session: &SessionRef) -> Result<(), Error> {
    revoke_as(state, ctx, session, Some(session.id), AuditAction::Logout)
}

/// Revokes sessions of the caller's account: `Some(id)` that one (404 `not_found` if it is not
/// one of the caller's live sessions), `None` all but the caller's own. Errors: 401 when the
/// caller's session is not live.
pub fn revoke(
    state: &AppState,
    ctx: &Context,
    session: &SessionRef,
    which: Option<i64>,
) -> Result<(), Error> {
    revoke_as(state, ctx, session, which, AuditAction::SessionsRevoked)
}

/// [`revoke`], recorded in the audit trail as `action` when a session went.
fn revoke_as(
    state: &AppState,
    ctx: &Context,
    session: &SessionRef,
    which: Option<i64>,
    action: AuditAction,
) -> Result<(), Error> {
    let mut client = db::checkout(&state.pool)?;
    let mut uow = UnitOfWork::begin(&mut client, ctx)?;
    let revoked = sql::revoke(uow.tx(), session, which)?;
    let Some(account_id) = revoked.account_id else { return Err(Error::InvalidToken) };
    if !revoked.sessions.is_empty() {
        let details = json!({ "session_ids": revoked.sessions });
        uow.record_with(Subject::Account(account_id), Some(account_id), action, details);
    }
    uow.commit(state)?;
    match revoked.sessions.len() {
        // A logout whose session another request ended while it waited: as if already gone.
        0 if which == Some(session.id) => Err(Error::InvalidToken),
        0 if which.is_some() => Err(Error::NotFound),
        _ => Ok(()),
    }
}

/// The caller's account's live sessions, oldest first. Errors: 401 when the caller's is not live.
pub fn list(state: &AppState, session: &SessionRef) -> Result<Vec<SessionInfo>, Error> {
    let sessions = sql::list(&mut *db::checkout(&state.pool)?, session)?;
    if sessions.is_empty() { Err(Error::InvalidToken) } else { Ok(sessions) }
}
