//! `POST /login/code` and `POST /login/code/verify`: signing in with a code mailed to the
//! account's address, the way in that the per-account login-failure limit never blocks (contract
//! v3, "never locked out").
//!
//! Whoever knows only an email can spend its password budget and keep the right password out for
//! an hour; the owner still reads their mail. Whoever reads the mailbox could already reset the
//! password, so this path gives them nothing new: the code is as strong as a reset code
//! (`RESET_CODE_DIGITS`, `RESET_CODE_TTL_SECONDS`, `MAX_RESET_ATTEMPTS` wrong tries), mail is
//! counted against the mailbox's budget, and a second factor is still asked for.

use super::mfa::{self, FirstFactor};
use super::sessions::{Login, pair};
use super::{AppState, limits, recovery};
use crate::domain::activation::{ActivationOutcome, decide};
use crate::domain::{ClaimSnapshot, CodePurpose, Email, RefreshToken, VerificationCode};
use crate::error::Error;
use crate::store::sign_in_codes::{self, Settled};
use crate::store::{self};

/// Asks for a sign-in code for `email`, answering alike whatever it is: the request is queued and
/// the background worker mails a code only to an active, enabled account (as `POST
/// /password/forgot` does). Errors: 429 (the mailbox's `RATE_LIMIT_EMAIL_PER_HOUR`), 503.
pub fn request(state: &AppState, email: &Email) -> Result<(), Error> {
    recovery::request_code(state, CodePurpose::SignIn, email)
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
/// code, wrong, expired, used up: one body, the same four statements, each transaction ending
/// with a write), 403
/// [`Error::AccountDisabled`] after the right code of a disabled account, 503.
pub fn verify(
    state: &AppState,
    email: &Email,
    code: &VerificationCode,
    user_agent: Option<&str>,
) -> Result<Login, Error> {
    let mut client = store::checkout(&state.pool)?;
    let mut tx = client.begin()?;
    let account = sign_in_codes::lock_account(&mut tx, email)?;
    // Written for every email, so that every verification commits a write (a read-only
    // transaction commits without waiting for the disk, which a timing attacker could tell).
    limits::count_sign_in_code_try(&mut tx, email)?;
    let snapshot = sign_in_codes::lock_code(&mut tx, account.map(|a| a.account_id), code)?;
    let settled = settle(snapshot, state.config.max_reset_attempts);
    sign_in_codes::settle_sign_in_code(&mut tx, account.map(|a| a.account_id), settled)?;
    let account = match account {
        Some(account) if settled == Settled::Used => account,
        _ => {
            tx.commit()?;
            return Err(Error::InvalidCode);
        }
    };
    if account.disabled {
        tx.commit()?; // the code is spent; the right one learns why it opens nothing
        return Err(Error::AccountDisabled);
    }
    let (id, version) = (account.account_id, account.credential_version);
    let login = if account.mfa_enabled {
        let first = FirstFactor::EmailCode;
        Login::MfaRequired(mfa::challenge_on(&mut tx, state, id, version, first, user_agent)?)
    } else {
        let refresh_token = RefreshToken::generate()?;
        let issued = store::sessions::create(
            &mut tx,
            id,
            version,
            &[FirstFactor::EmailCode.amr()],
            user_agent,
            &refresh_token,
            state.config.session_ttl_seconds,
        )?
        .ok_or(Error::InvalidCode)?;
        Login::Tokens(pair(state, &issued, refresh_token))
    };
    tx.commit()?;
    Ok(login)
}

/// What the presented code does, decided as for an activation (expiry first, then the code, then
/// the count of wrong tries).
fn settle(snapshot: Option<ClaimSnapshot>, max_attempts: u32) -> Settled {
    let Some(snapshot) = snapshot else { return Settled::Nothing };
    match decide(snapshot, max_attempts) {
        ActivationOutcome::Activate => Settled::Used,
        ActivationOutcome::WrongCode { .. } => Settled::Wrong,
        ActivationOutcome::Exhausted => Settled::Exhausted,
        ActivationOutcome::Expired => Settled::Expired,
    }
}
