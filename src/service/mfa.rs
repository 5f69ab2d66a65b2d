//! The second step of a login with a second factor on: `POST /login` answered `mfa_required` and
//! an mfa_token; `POST /login/mfa` exchanges it and a code for the token pair.

use super::sessions::{TokenPair, pair};
use super::totp::{Purpose, check_code};
use super::{AppState, limits};
use crate::domain::{Email, FactorCode, MfaToken, RefreshToken};
use crate::error::Error;
use crate::mail::mfa_failures_message;
use crate::store::pool::{Queries, Tx};
use crate::store::{self, outbox, totp};
use serde_json::json;

/// Wrong codes an mfa_token survives (the 5th kills it).
pub const MAX_MFA_ATTEMPTS: u32 = 5;

/// Wrong second-factor codes within an hour, across every mfa_token of an account (expired ones
/// included), after which its owner is warned by mail, at most once an hour (contract v3).
pub const WARN_AFTER_WRONG_CODES: i64 = 3;

/// How the first step of a sign-in was passed; the session's `amr` starts with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstFactor {
    /// `POST /login` (`amr` `pwd`).
    Password,
    /// `POST /login/code/verify` (`amr` `email`).
    EmailCode,
}

impl FirstFactor {
    /// Its `amr` value (RFC 8176), as stored in `mfa_challenges.first_factor`.
    pub fn amr(self) -> &'static str {
        match self {
            FirstFactor::Password => "pwd",
            FirstFactor::EmailCode => "email",
        }
    }
}

/// Starts the second step for an account whose first step (`first`) was just passed: a fresh
/// mfa_token, valid `MFA_TOKEN_TTL_SECONDS`, stored as SHA-256.
pub fn challenge(
    state: &AppState,
    account_id: i64,
    credential_version: i32,
    first: FirstFactor,
    user_agent: Option<&str>,
) -> Result<MfaToken, Error> {
    let mut client = store::checkout(&state.pool)?;
    challenge_on(&mut *client, state, account_id, credential_version, first, user_agent)
}

/// [`challenge`] on `q`, a connection or the caller's transaction.
pub fn challenge_on(
    q: &mut impl Queries,
    state: &AppState,
    account_id: i64,
    credential_version: i32,
    first: FirstFactor,
    user_agent: Option<&str>,
) -> Result<MfaToken, Error> {
    let token = MfaToken::generate()?;
    let ttl = state.config.mfa_token_ttl_seconds;
    let challenge =
        totp::NewChallenge { account_id, credential_version, first_factor: first.amr() };
    if !totp::create_challenge(q, &challenge, &token, user_agent, ttl)? {
        return Err(Error::LoginFailed); // deleted, or given a new password, since the check
    }
    Ok(token)
}

/// Finishes a sign-in with the second factor: a new session with `amr` `[first, "otp"]` and its
/// first token pair.
///
/// One transaction locks the challenge and the account's factor, so two logins can never both
/// accept one TOTP code and a recovery code works once. Budgets, checked and counted under the
/// account's lock (parallel guesses cannot overshoot): the account's wrong second-factor codes
/// per hour, whatever the first step; and, after a password, the login-failure budget too (while
/// it is spent even the right code gets 429; a sign-in code is the way in that this limit never
/// blocks, so it is not asked there). A wrong code counts against the challenge (the
/// [`MAX_MFA_ATTEMPTS`]th kills it) and the budgets, and the [`WARN_AFTER_WRONG_CODES`]th within
/// an hour mails the owner a warning: the first step was passed.
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
    let after_password = challenge.first_factor == FirstFactor::Password.amr();
    // On this transaction's own connection: a request holding the account's lock never waits
    // for a second pooled connection (parallel requests on one account would starve it).
    if after_password {
        limits::ensure_login_budget_on(&mut tx, state, &email)?;
    }
    limits::second_factor_budget_on(&mut tx, state, &email, false)?;
    if !check_code(state, &mut tx, factor, code, Purpose::Login)? {
        wrong_code(state, &mut tx, &challenge, token, &email, after_password)?;
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
        &[challenge.first_factor.as_str(), "otp"],
        challenge.user_agent.as_deref(),
        &refresh_token,
        state.config.session_ttl_seconds,
    )?
    .ok_or(Error::MfaFailed)?;
    tx.commit()?;
    state.outbox.wake();
    Ok(pair(state, &issued, refresh_token))
}

/// A wrong code at the second step, inside the transaction that holds the account's lock: counted
/// against the challenge and the budgets, recorded, and the owner warned when it is the
/// [`WARN_AFTER_WRONG_CODES`]th within an hour (none warned in that hour yet).
fn wrong_code(
    state: &AppState,
    tx: &mut Tx<'_>,
    challenge: &totp::Challenge,
    token: &MfaToken,
    email: &Email,
    after_password: bool,
) -> Result<(), Error> {
    let id = challenge.factor.account_id;
    let last = challenge.wrong_attempts + 1 >= MAX_MFA_ATTEMPTS;
    totp::fail_challenge(tx, token, last)?;
    let details = json!({ "factor": "totp", "at": SIGN_IN_STEP, "first_factor": challenge.first_factor,
                          "mfa_token_killed": last });
    store::audit::record(tx, Some(id), None, "login_failed", Some(&details))?;
    limits::second_factor_budget_on(tx, state, email, true)?;
    if after_password {
        limits::count_login_failure_on(tx, state, email)?;
    }
    if store::audit::warning_due(
        tx,
        id,
        SIGN_IN_STEP,
        WARN_AFTER_WRONG_CODES,
        SECOND_FACTOR_WARNING,
    )? {
        outbox::enqueue(tx, "mfa_failures", &mfa_failures_message(email))?;
        store::audit::record(tx, Some(id), None, SECOND_FACTOR_WARNING, None)?;
    }
    Ok(())
}

/// The `at` of a wrong code's `login_failed` event at the sign-in's second step (enrolment and
/// switching off record others, which never warn).
const SIGN_IN_STEP: &str = "sign-in";

/// The audit action recorded with each warning mail (at most one an hour).
pub const SECOND_FACTOR_WARNING: &str = "second_factor_warning_mailed";
