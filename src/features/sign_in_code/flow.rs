//! `POST /login/code` and `POST /login/code/verify`: signing in with a code mailed to the
//! account's address, the way in that the per-account login-failure limit never blocks (contract
//! v3, "never locked out").
//!
//! Whoever knows only an email can spend its password budget and keep the right password out for
//! an hour; the owner still reads their mail. Whoever reads the mailbox could already reset the
//! password, so this path gives them nothing new: the code is as strong as a reset code
//! (`RESET_CODE_DIGITS`, `RESET_CODE_TTL_SECONDS`, `MAX_RESET_ATTEMPTS` wrong tries), mail is
//! counted against the mailbox's budget, and a second factor is still asked for.

use super::sql::{self, Settled};
use crate::app::AppState;
use crate::context::Context;
use crate::db;
use crate::domain::decide;
use crate::domain::{AuditAction, CodeOutcome, CodePurpose, CodeSnapshot, Email, VerificationCode};
use crate::error::Error;
use crate::features::rate_limits::flow as limits;
use crate::features::recovery::flow as recovery;
use crate::features::sessions::mfa::{self, FirstFactor};
use crate::features::sessions::tokens::{self, Login, NewSession};
use crate::uow::{Subject, UnitOfWork};
use serde_json::json;

/// Asks for a sign-in code for `email`, answering alike whatever it is: the request is queued and
/// the background worker mails a code only to an active, enabled account (as `POST
/// /password/forgot` does). Errors: 429 (the mailbox's `RATE_LIMIT_EMAIL_PER_HOUR`), 503.
pub fn request(state: &AppState, ctx: &Context, email: &Email) -> Result<(), Error> {
    recovery::request_code(state, ctx, CodePurpose::SignIn, email)
}

/// Signs in with `email` and the `code` mailed to it: a new session with `amr` `["email"]`, or
/// with a second factor on, the mfa_token for `POST /login/mfa` (then `["email","otp"]`).
///
/// One transaction locks the account, so parallel guesses queue and never get more than
/// `MAX_RESET_ATTEMPTS` evaluations per code; the last wrong one kills it. Wrong codes count
/// against the code, never against the password budget, and that budget is not asked: a spent
/// password limit cannot keep the owner out.
///
/// Errors: 401 [`Error::InvalidCode`] for every failure of email and code (unknown email, no
/// code, wrong, expired, used up: one body, the same five statements, each transaction ending
/// with a write), 403
/// [`Error::AccountDisabled`] after the right code of a disabled account, 503.
pub fn verify(
    state: &AppState,
    ctx: &Context,
    email: &Email,
    code: &VerificationCode,
    user_agent: Option<&str>,
) -> Result<Login, Error> {
    let mut client = db::checkout(&state.pool)?;
    let mut uow = UnitOfWork::begin(&mut client, ctx)?;
    let account = sql::lock_account(uow.tx(), email)?;
    // Written for every email, so that every verification commits a write (a read-only
    // transaction commits without waiting for the disk, which a timing attacker could tell).
    limits::count_sign_in_code_try(uow.tx(), email)?;
    let account_id = account.map(|a| a.account_id);
    let snapshot = sql::lock_code(uow.tx(), account_id, code)?;
    let settled = settle(snapshot, state.config.mailed_codes.max_attempts);
    sql::settle_sign_in_code(uow.tx(), account_id, settled)?;
    let account = match account {
        Some(account) if settled == Settled::Used => account,
        _ => {
            if let (Some(id), Settled::Wrong | Settled::Exhausted) = (account_id, settled) {
                let killed = settled == Settled::Exhausted;
                let details = json!({ "factor": "email_code", "code_killed": killed });
                uow.record_with(Subject::Account(id), None, AuditAction::LoginFailed, details);
            }
            uow.commit_alike(state)?;
            return Err(Error::InvalidCode);
        }
    };
    if account.disabled {
        uow.commit(state)?; // the code is spent; the right one learns why it opens nothing
        return Err(Error::AccountDisabled);
    }
    let (id, version) = (account.account_id, account.credential_version);
    let login = if account.mfa_enabled {
        let first = FirstFactor::EmailCode;
        Login::MfaRequired(mfa::challenge(uow.tx(), state, id, version, first, user_agent)?)
    } else {
        let new = NewSession { account_id: id, credential_version: version };
        let amr = [FirstFactor::EmailCode.amr()];
        let (issued, refresh_token) =
            tokens::start(&mut uow, state, new, &amr, user_agent)?.ok_or(Error::InvalidCode)?;
        Login::Tokens(tokens::pair(state, &issued, refresh_token))
    };
    uow.commit(state)?;
    Ok(login)
}

/// What the presented code does, decided as for an activation (expiry first, then the code, then
/// the count of wrong tries).
fn settle(snapshot: Option<CodeSnapshot>, max_attempts: u32) -> Settled {
    let Some(snapshot) = snapshot else { return Settled::Nothing };
    match decide(snapshot, max_attempts) {
        CodeOutcome::Accepted => Settled::Used,
        CodeOutcome::WrongCode { .. } => Settled::Wrong,
        CodeOutcome::Exhausted => Settled::Exhausted,
        CodeOutcome::Expired => Settled::Expired,
    }
}
