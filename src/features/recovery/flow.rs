//! `POST /password/forgot` and `POST /password/reset`: a forgotten password replaced with a code
//! mailed to the account's address (OWASP Forgot Password Cheat Sheet; NIST SP 800-63B §6.1.2.3).

use super::sql as mailed_codes;
use crate::app::AppState;
use crate::context::Context;
use crate::db;
use crate::domain::code::code_salt;
use crate::domain::decide;
use crate::domain::{
    AuditAction, CodeOutcome, CodePurpose, Email, Password, UserEvent, UserEventType,
    VerificationCode,
};
use crate::error::Error;
use crate::features::rate_limits::flow as limits;
use crate::mail::{Notice, NoticeKind};
use crate::security::hashing;
use crate::uow::{Subject, UnitOfWork};
use serde_json::json;

/// Records a request to reset `email`'s password and answers alike whatever `email` is.
///
/// Every request does the same work: it counts one mail against the mailbox's
/// `RATE_LIMIT_EMAIL_PER_HOUR` (429 once used up, for unknown emails too: the limit tells nothing)
/// and inserts the request into a queue, then wakes the background worker. Whether the email is
/// an active account is first looked at by the worker ([`start_requested`]), after the answer:
/// neither the answer nor its timing can tell. Errors: 429, 503.
pub fn forgot(state: &AppState, ctx: &Context, email: &Email) -> Result<(), Error> {
    request_code(state, ctx, CodePurpose::PasswordReset, email)
}

/// Queues a request for a `purpose` code to `email` as [`forgot`] describes: one mail counted
/// against the mailbox's budget, one insert, the worker woken; the same work whatever `email` is.
pub fn request_code(
    state: &AppState,
    ctx: &Context,
    purpose: CodePurpose,
    email: &Email,
) -> Result<(), Error> {
    limits::count_mail_to(state, email)?;
    mailed_codes::queue_request(&mut *db::checkout(&state.pool)?, ctx, purpose, email)?;
    state.worker_signal.wake();
    Ok(())
}

/// Most requests one worker pass takes.
const REQUESTS_PER_PASS: i64 = 16;

/// Background worker: turns queued requests for mailed codes (forgot password, sign-in code)
/// into codes, in one transaction: for each, a fresh `RESET_CODE_DIGITS` code is stored and its
/// mail queued in the outbox, if and only if the email is an active, enabled account (a newer
/// request replaces the older code of the same purpose). Returns how many requests it took.
pub fn start_requested(state: &AppState) -> Result<usize, Error> {
    let ttl_seconds = state.config.mailed_codes.reset_ttl_seconds;
    let mut client = db::checkout(&state.pool)?;
    let mut uow = UnitOfWork::begin(&mut client, &Context::system())?;
    let requests = mailed_codes::claim_requests(uow.tx(), REQUESTS_PER_PASS)?;
    for request in &requests {
        let code = VerificationCode::generate(state.config.mailed_codes.digits)?;
        let salt = code_salt()?;
        let Some(id) = mailed_codes::start(uow.tx(), request, &code, &salt, ttl_seconds)? else {
            continue; // not an active, enabled account: nothing is mailed
        };
        let code = code.expose().to_owned();
        let (kind, action) = match request.purpose {
            CodePurpose::PasswordReset => {
                (NoticeKind::ResetCode { code, ttl_seconds }, AuditAction::PasswordResetRequested)
            }
            CodePurpose::SignIn => {
                (NoticeKind::SignInCode { code, ttl_seconds }, AuditAction::SignInCodeRequested)
            }
        };
        uow.notify(Notice::new(&request.email, kind));
        uow.record_for(&request.context, Subject::Account(id), action);
    }
    uow.commit(state)?;
    Ok(requests.len())
}

/// Sets `new` as the password of `email` if `code` is its live reset code.
///
/// The new password is hashed first, so every attempt costs one bcrypt hash whether or not a reset
/// exists (no timing oracle, and guessing is as slow as logging in). Then one transaction locks the
/// reset row, so parallel guesses queue and never exceed `MAX_RESET_ATTEMPTS`; the domain decides as
/// for an activation. On success the same transaction sets the password, revokes every session,
/// consumes the code, cancels a pending change of email and queues a notice.
///
/// Errors: 401 [`Error::InvalidCode`] for every failure of email and code (unknown email, no code,
/// wrong, expired, used up; the `MAX_RESET_ATTEMPTS`th wrong code deletes the reset), 503.
pub fn reset(
    state: &AppState,
    ctx: &Context,
    email: &Email,
    code: &VerificationCode,
    new: &Password,
) -> Result<(), Error> {
    let new_hash = hashing::hash(new, state.config.credentials.bcrypt_cost)?;
    let mut client = db::checkout(&state.pool)?;
    let mut uow = UnitOfWork::begin(&mut client, ctx)?;
    let Some(account_id) = mailed_codes::lock_active(uow.tx(), email)? else {
        return Err(Error::InvalidCode);
    };
    let purpose = CodePurpose::PasswordReset;
    let Some(snapshot) = mailed_codes::lock(uow.tx(), account_id, purpose, code)? else {
        return Err(Error::InvalidCode);
    };
    let outcome = decide(snapshot, state.config.mailed_codes.max_attempts);
    match outcome {
        CodeOutcome::Accepted => {
            mailed_codes::complete(uow.tx(), account_id, &new_hash)?;
            uow.record(Subject::Account(account_id), None, AuditAction::PasswordReset);
            uow.notify(Notice::new(email, NoticeKind::PasswordReset));
            let event = UserEvent::new(UserEventType::PasswordChanged, account_id, email.as_str());
            uow.publish(event.with(json!({ "via": "reset" })));
        }
        CodeOutcome::WrongCode { .. } => {
            mailed_codes::record_wrong_attempt(uow.tx(), account_id, purpose)?
        }
        CodeOutcome::Exhausted | CodeOutcome::Expired => {
            mailed_codes::delete(uow.tx(), account_id, purpose)?
        }
    }
    uow.commit(state)?;
    if outcome != CodeOutcome::Accepted {
        return Err(Error::InvalidCode);
    }
    Ok(())
}
