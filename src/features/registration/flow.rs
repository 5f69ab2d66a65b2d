//! The trust state machine's use cases: `POST /register` (AVAILABLE → PENDING, then the code goes
//! out by mail), `POST /activate` (PENDING → ACTIVE with Basic Auth and the mailed code) and
//! `POST /resend` (a new code for a pending claim).

use super::decide::{ResendOutcome, decide_resend};
use super::sql;
use crate::app::AppState;
use crate::context::Context;
use crate::db;
use crate::domain::AccountStatus;
use crate::domain::code::code_salt;
use crate::domain::{
    AuditAction, CodeOutcome, Email, Password, UserEvent, UserEventType, VerificationCode, decide,
};
use crate::error::Error;
use crate::features::credentials::flow as credentials;
use crate::features::rate_limits::flow as limits;
use crate::mail::{Notice, NoticeKind};
use crate::security::hashing;
use crate::telemetry::log;
use crate::uow::{Subject, UnitOfWork};
use serde_json::json;

/// Claims `email` with `password` and mails a fresh code.
///
/// Order: taken? (409) → mail budget left? (429; both before spending a bcrypt hash) → hash →
/// code length (hardened while the email's wrong-code budget is spent) → commit the claim → count the mail → send it → if the budget
/// was used up meanwhile or the mail fails, delete the claim again (failure scenario 2,
/// "persistence ghost"). Only a committed claim counts as a mail, so losers of a race spend none. Errors: [`Error::RateLimited`],
/// [`Error::EmailTaken`], [`Error::MailUnavailable`] (503, no claim left behind),
/// [`Error::Unavailable`] (503, database).
pub fn register(
    state: &AppState,
    ctx: &Context,
    email: &Email,
    password: &Password,
) -> Result<(), Error> {
    let config = &state.config;
    if sql::is_taken(&mut *db::checkout(&state.pool)?, email)? {
        return Err(Error::EmailTaken);
    }
    limits::ensure_mail_budget(state, email)?;
    let password_hash = hashing::hash(password, config.credentials.bcrypt_cost)?;
    let code = VerificationCode::generate(limits::next_code_digits(state, email)?)?;
    let salt = code_salt()?;
    let mut client = db::checkout(&state.pool)?;
    let mut uow = UnitOfWork::begin(&mut client, ctx)?;
    let ttl = config.claims.code_ttl_seconds;
    let id = sql::insert_claim(uow.tx(), email, &password_hash, &code, &salt, ttl)?
        .ok_or(Error::EmailTaken)?;
    uow.record(Subject::Account(id), Some(id), AuditAction::Registered);
    uow.commit(state)?;
    drop(client);

    if let Err(error) = deliver_code(state, email, &code, "verification") {
        sql::delete_undelivered_claim(&mut *db::checkout(&state.pool)?, id, &salt)?;
        return Err(error);
    }
    Ok(())
}

/// Activates the claim of the Basic Auth identity with `code`; returns the normalized email.
///
/// Credentials are checked first and outside any lock (seed truth #4: password and code are both
/// required; a wrong password never counts as a wrong code). Then one transaction locks the claim,
/// lets the domain decide, and applies the decision. An already active account with the right
/// password answers success without looking at the code (seed truth #11).
///
/// Wrong codes also count against the email's daily budget across claims; once it is used up, new
/// codes for the email are longer (see `limits::next_code_digits`), and activation goes on as
/// usual: never a lockout of the owner.
///
/// The password of anything but a pending claim counts against the login-failure limit
/// (`credentials::verify_claimant`): for an active account this endpoint tells a right password
/// from a wrong one.
///
/// Errors: 401 [`Error::InvalidCredentials`], 422 [`Error::WrongCode`], 410
/// [`Error::AttemptsExhausted`] or [`Error::CodeExpired`] (claim deleted), 429
/// [`Error::RateLimited`], 503.
pub fn activate(
    state: &AppState,
    ctx: &Context,
    email: &str,
    password: &str,
    code: &VerificationCode,
) -> Result<Email, Error> {
    let (email, stored) = credentials::verify_claimant(state, email, password)?;
    if stored.status == AccountStatus::Active {
        return Ok(email);
    }
    let mut client = db::checkout(&state.pool)?;
    let mut uow = UnitOfWork::begin(&mut client, ctx)?;
    let Some((status, snapshot)) = sql::lock_claim(uow.tx(), &stored, code)? else {
        // Released or replaced between the password check and the lock: no such identity now.
        return Err(Error::InvalidCredentials);
    };
    if status == AccountStatus::Active {
        return Ok(email); // a concurrent request with the right code won
    }
    let outcome = decide(snapshot, state.config.claims.max_code_attempts);
    sql::apply_outcome(uow.tx(), stored.id, outcome)?;
    if outcome == CodeOutcome::Accepted {
        uow.record(Subject::Account(stored.id), Some(stored.id), AuditAction::Activated);
        uow.publish(UserEvent::new(UserEventType::Created, stored.id, email.as_str()));
    }
    uow.commit(state)?;
    drop(client);
    if matches!(outcome, CodeOutcome::WrongCode { .. } | CodeOutcome::Exhausted) {
        limits::count_wrong_code(state, &email)?;
    }
    match outcome {
        CodeOutcome::Accepted => Ok(email),
        CodeOutcome::WrongCode { attempts_remaining } => {
            Err(Error::WrongCode { attempts_remaining })
        }
        CodeOutcome::Exhausted => Err(Error::AttemptsExhausted),
        CodeOutcome::Expired => Err(Error::CodeExpired),
    }
}

/// Mails a new code for the Basic Auth identity's pending claim and returns its normalized email: the old code stops working, the
/// window restarts, wrong attempts are kept, at most `MAX_RESENDS` per claim.
///
/// The new code is committed first and mailed after (failure scenario 2); if the mail budget is
/// used up or the mail cannot be delivered, the previous code, window and resend count are put
/// back, so the claim is exactly as before. The password of anything but a pending claim counts
/// against the login-failure limit (`credentials::verify_claimant`). Errors: 401, 409
/// [`Error::AlreadyActive`], 410
/// [`Error::CodeExpired`] (claim deleted), 429 [`Error::TooManyResends`] or
/// [`Error::RateLimited`], 503 [`Error::MailUnavailable`].
pub fn resend(state: &AppState, email: &str, password: &str) -> Result<Email, Error> {
    let (email, stored) = credentials::verify_claimant(state, email, password)?;
    if stored.status == AccountStatus::Active {
        return Err(Error::AlreadyActive);
    }
    let config = &state.config;
    let code = VerificationCode::generate(limits::next_code_digits(state, &email)?)?;
    let salt = code_salt()?;

    let mut client = db::checkout(&state.pool)?;
    let mut tx = client.begin()?;
    let claim = sql::lock_for_resend(&mut tx, &stored)?.ok_or(Error::InvalidCredentials)?;
    if claim.status == AccountStatus::Active {
        return Err(Error::AlreadyActive);
    }
    match decide_resend(claim.expired, claim.resends, config.claims.max_resends) {
        ResendOutcome::Expired => {
            sql::delete_claim(&mut tx, stored.id)?;
            tx.commit()?;
            return Err(Error::CodeExpired);
        }
        ResendOutcome::TooMany => {
            return Err(Error::TooManyResends { retry_after_seconds: claim.seconds_left });
        }
        ResendOutcome::Resend => {
            sql::replace_code(&mut tx, stored.id, &code, &salt, config.claims.code_ttl_seconds)?;
            tx.commit()?;
        }
    }
    drop(client);

    let sent = deliver_code(state, &email, &code, "resend");
    if let Err(error) = sent {
        sql::restore_code(&mut *db::checkout(&state.pool)?, stored.id, &salt, &claim.previous)?;
        return Err(error);
    }
    Ok(email)
}

/// Counts one mail against `email`'s hourly budget (429 when used up, nothing sent), then mails
/// `code`. A delivery failure is logged (without the code) and becomes 503 `mail_unavailable`.
/// Callers undo their state change on any error, so no claim outlives an undelivered code.
pub fn deliver_code(
    state: &AppState,
    email: &Email,
    code: &VerificationCode,
    kind: &str,
) -> Result<(), Error> {
    limits::count_mail_to(state, email)?;
    let hardened = code.expose().len() as u32 == state.config.claims.code_lengths.hardened;
    let ttl_seconds = state.config.claims.code_ttl_seconds;
    let code = code.expose().to_owned();
    let notice = Notice::new(email, NoticeKind::VerificationCode { code, ttl_seconds, hardened });
    state.mailer.send(&notice.message(&state.config.mail.templates)?).map_err(|e| {
        log::error("mail_failed", json!({"kind": kind, "error": e.to_string()}));
        Error::MailUnavailable
    })
}
