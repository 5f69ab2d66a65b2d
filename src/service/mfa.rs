//! The second step of a login with a second factor on: `POST /login` answered `mfa_required` and
//! an mfa_token; `POST /login/mfa` exchanges it and a code for the token pair.

use super::sessions::{TokenPair, pair};
use super::totp::{Purpose, check_code};
use super::{AppState, limits};
use crate::domain::{Email, FactorCode, MfaToken, RefreshToken};
use crate::error::Error;
use crate::mail::mfa_failures_message;
use crate::store::{self, outbox, totp};
use serde_json::json;

/// Wrong codes an mfa_token survives (the 5th kills it).
pub const MAX_MFA_ATTEMPTS: u32 = 5;

/// Starts the second step for an account whose password was just checked: a fresh mfa_token,
/// valid `MFA_TOKEN_TTL_SECONDS`, stored as SHA-256.
pub fn challenge(
    state: &AppState,
    account_id: i64,
    credential_version: i32,
    user_agent: Option<&str>,
) -> Result<MfaToken, Error> {
    let token = MfaToken::generate()?;
    let ttl = state.config.mfa_token_ttl_seconds;
    let mut client = store::checkout(&state.pool)?;
    if !totp::create_challenge(
        &mut client,
        account_id,
        credential_version,
        &token,
        user_agent,
        ttl,
    )? {
        return Err(Error::LoginFailed); // deleted, or given a new password, since the check
    }
    Ok(token)
}

/// Finishes a login with the second factor: a new session with `amr` `["pwd","otp"]` and its
/// first token pair.
///
/// One transaction locks the challenge and the account's factor, so two logins can never both
/// accept one TOTP code and a recovery code works once. While the email's login-failure budget is
/// spent, even the right code gets 429. A wrong code counts against the challenge (the
/// [`MAX_MFA_ATTEMPTS`]th kills it and mails the owner a warning: the password was right) and as
/// a failed login, in the same transaction (so parallel guesses cannot overshoot the limit).
///
/// Errors: 401 [`Error::MfaFailed`] for every failure of token and code, 429, 503.
pub fn verify(state: &AppState, token: &MfaToken, code: &FactorCode) -> Result<TokenPair, Error> {
    let mut client = store::checkout(&state.pool)?;
    let mut tx = client.begin()?;
    if !totp::lock_challenge_account(&mut tx, token)? {
        return Err(Error::MfaFailed);
    }
    let challenge = totp::lock_challenge(&mut tx, token)?.ok_or(Error::MfaFailed)?;
    let factor = &challenge.factor;
    let email = Email::parse(&factor.email)
        .map_err(|_| Error::Internal("stored email does not parse".into()))?;
    // On this transaction's own connection: a request holding the account's lock never waits
    // for a second pooled connection (parallel requests on one account would starve it).
    limits::ensure_login_budget_on(&mut tx, state, &email)?;
    if !check_code(state, &mut tx, factor, code, Purpose::Login)? {
        let last = challenge.wrong_attempts + 1 >= MAX_MFA_ATTEMPTS;
        totp::fail_challenge(&mut tx, token, last)?;
        let details = json!({ "factor": "totp", "mfa_token_killed": last });
        let id = Some(factor.account_id);
        store::audit::record(&mut tx, id, None, "login_failed", Some(&details))?;
        if last {
            outbox::enqueue(&mut tx, "mfa_failures", &mfa_failures_message(&email))?;
        }
        limits::count_login_failure_on(&mut tx, state, &email)?;
        tx.commit()?;
        state.outbox.wake();
        return Err(Error::MfaFailed);
    }
    totp::delete_challenge(&mut tx, token)?;
    let refresh_token = RefreshToken::generate()?;
    let issued = store::sessions::create(
        &mut tx,
        factor.account_id,
        factor.credential_version,
        &["pwd", "otp"],
        challenge.user_agent.as_deref(),
        &refresh_token,
        state.config.session_ttl_seconds,
    )?
    .ok_or(Error::MfaFailed)?;
    tx.commit()?;
    state.outbox.wake();
    Ok(pair(state, &issued, refresh_token))
}
