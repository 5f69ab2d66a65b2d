//! The second step of a login with a second factor on: `POST /login` answered `mfa_required` and
//! an mfa_token; `POST /login/mfa` exchanges it and a code for the token pair.

use super::sql::challenges::{self, Challenge, NewChallenge};
use super::tokens::{self, NewSession, TokenPair};
use crate::app::AppState;
use crate::context::Context;
use crate::db::{self, pool::Tx};
use crate::domain::{AuditAction, FactorCode, MfaToken};
use crate::error::Error;
use crate::features::audit::sql as audit_sql;
use crate::features::rate_limits::flow as limits;
use crate::features::totp::flow::{Purpose, check_code};
use crate::mail::{Notice, NoticeKind};
use crate::uow::{Subject, UnitOfWork};
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
    /// `POST /idp/exchange` after another provider's sign-in (`amr` `fed`).
    Federated,
}

impl FirstFactor {
    /// Its `amr` value (RFC 8176), as stored in `mfa_challenges.first_factor`.
    pub fn amr(self) -> &'static str {
        match self {
            FirstFactor::Password => "pwd",
            FirstFactor::EmailCode => "email",
            FirstFactor::Federated => "fed",
        }
    }
}

/// Starts the second step for an account whose first step (`first`) was just passed, in the
/// caller's transaction: a fresh mfa_token, valid `MFA_TOKEN_TTL_SECONDS`, stored as SHA-256.
/// Errors: 401 when the account changed since the check (deleted, given a new password).
pub fn challenge(
    tx: &mut Tx<'_>,
    state: &AppState,
    account_id: i64,
    credential_version: i32,
    first: FirstFactor,
    user_agent: Option<&str>,
) -> Result<MfaToken, Error> {
    let token = MfaToken::generate()?;
    let ttl = state.config.sessions.mfa_token_ttl_seconds;
    let challenge = NewChallenge { account_id, credential_version, first_factor: first.amr() };
    if !challenges::create_challenge(tx, &challenge, &token, user_agent, ttl)? {
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
pub fn verify(
    state: &AppState,
    ctx: &Context,
    token: &MfaToken,
    code: &FactorCode,
) -> Result<TokenPair, Error> {
    let mut client = db::checkout(&state.pool)?;
    let mut uow = UnitOfWork::begin(&mut client, ctx)?;
    if !challenges::lock_challenge_account(uow.tx(), token)? {
        return Err(Error::MfaFailed);
    }
    let challenge = challenges::lock_challenge(uow.tx(), token)?.ok_or(Error::MfaFailed)?;
    let factor = &challenge.factor;
    let email = factor.email.clone();
    let after_password = challenge.first_factor == FirstFactor::Password.amr();
    // On this transaction's own connection: a request holding the account's lock never waits
    // for a second pooled connection (parallel requests on one account would starve it).
    if after_password {
        limits::ensure_login_budget_on(uow.tx(), state, &email)?;
    }
    limits::second_factor_budget_on(uow.tx(), state, &email, false)?;
    if !check_code(state, &mut uow, factor, code, Purpose::Login)? {
        wrong_code(state, &mut uow, &challenge, token, after_password)?;
        uow.commit(state)?;
        return Err(Error::MfaFailed);
    }
    challenges::delete_challenge(uow.tx(), token)?;
    let new =
        NewSession { account_id: factor.account_id, credential_version: factor.credential_version };
    let amr = [challenge.first_factor.as_str(), "otp"];
    let user_agent = challenge.user_agent.as_deref();
    let (issued, refresh_token) =
        tokens::start(&mut uow, state, new, &amr, user_agent)?.ok_or(Error::MfaFailed)?;
    uow.commit(state)?;
    Ok(tokens::pair(state, &issued, refresh_token))
}

/// A wrong code at the second step, inside the unit of work that holds the account's lock:
/// counted against the challenge and the budgets, recorded, and the owner warned when it is the
/// [`WARN_AFTER_WRONG_CODES`]th within an hour (none warned in that hour yet).
fn wrong_code(
    state: &AppState,
    uow: &mut UnitOfWork<'_>,
    challenge: &Challenge,
    token: &MfaToken,
    after_password: bool,
) -> Result<(), Error> {
    let (id, email) = (challenge.factor.account_id, &challenge.factor.email);
    let last = challenge.wrong_attempts + 1 >= MAX_MFA_ATTEMPTS;
    challenges::fail_challenge(uow.tx(), token, last)?;
    let details = json!({ "factor": "totp", "at": SIGN_IN_STEP,
                          "first_factor": challenge.first_factor, "mfa_token_killed": last });
    uow.record_with(Subject::Account(id), None, AuditAction::LoginFailed, details);
    limits::second_factor_budget_on(uow.tx(), state, email, true)?;
    if after_password {
        limits::count_login_failure_on(uow.tx(), state, email)?;
    }
    // The wrong code recorded just now is written at commit: the trail holds the ones before it.
    let before = WARN_AFTER_WRONG_CODES - 1;
    if audit_sql::warning_due(uow.tx(), id, SIGN_IN_STEP, before)? {
        uow.notify(Notice::new(email, NoticeKind::SecondFactorWarning));
        uow.record(Subject::Account(id), None, AuditAction::SecondFactorWarningMailed);
    }
    Ok(())
}

/// The `at` of a wrong code's `login_failed` event at the sign-in's second step (enrolment and
/// switching off record others, which never warn).
const SIGN_IN_STEP: &str = "sign-in";
