//! `POST /me/email` and `POST /me/email/confirm`: a new address proves itself with a mailed code
//! before it replaces the old one (OWASP ASVS V6.3: re-authentication and notice to the old
//! address).

use super::sql as email_changes;
use crate::app::AppState;
use crate::context::Context;
use crate::db;
use crate::domain::code::code_salt;
use crate::domain::{
    AuditAction, CodeOutcome, Email, Profile, SessionRef, UserEvent, UserEventType,
    VerificationCode, decide,
};
use crate::error::Error;
use crate::features::account::flow as account;
use crate::features::account::sql as account_sql;
use crate::features::rate_limits::flow as limits;
use crate::features::registration::sql as claims;
use crate::mail::{Notice, NoticeKind};
use crate::uow::{Subject, UnitOfWork};
use serde_json::json;

/// A change of address waiting for its code.
#[derive(Debug)]
pub struct PendingChange {
    /// The address now.
    pub email: Email,
    /// The address asked for, normalized.
    pub pending_email: Email,
    /// Seconds the code stays valid (`EMAIL_CHANGE_TTL_SECONDS`).
    pub expires_in: u32,
}

/// Asks to change the session's account to `new_email`: checks the password, then queues a code
/// to the new address and a notice to the current one. A newer request replaces the older one.
///
/// Errors: 401, 400 [`Error::SameEmail`], 403 [`Error::WrongPassword`] (counts as a failed login),
/// 409 [`Error::EmailTaken`] (an account or a live claim holds the address; the confirmation
/// checks again), 429 (the login-failure limit, or the new mailbox's mail budget), 503.
pub fn request(
    state: &AppState,
    ctx: &Context,
    session: &SessionRef,
    new_email: &Email,
    password: Option<&str>,
) -> Result<PendingChange, Error> {
    let (account, email) = account::confirm(state, ctx, session, password)?;
    if email.as_str() == new_email.as_str() {
        return Err(Error::SameEmail);
    }
    if claims::is_taken(&mut *db::checkout(&state.pool)?, new_email)? {
        return Err(Error::EmailTaken);
    }
    limits::count_mail_to(state, new_email)?;
    let ttl = state.config.mailed_codes.email_change_ttl_seconds;
    let code = VerificationCode::generate(state.config.mailed_codes.digits)?;
    let salt = code_salt()?;
    let (id, version) = (account.account_id, account.credential_version);
    let mut client = db::checkout(&state.pool)?;
    let mut uow = UnitOfWork::begin(&mut client, ctx)?;
    if !email_changes::request(uow.tx(), id, version, new_email, &code, &salt, ttl)? {
        return Err(Error::InvalidToken); // the password changed meanwhile: this session is dead
    }
    let details = json!({ "new_email": new_email.as_str() });
    uow.record_with(Subject::Account(id), Some(id), AuditAction::EmailChangeRequested, details);
    let code = code.expose().to_owned();
    let code_mail = NoticeKind::EmailChangeCode { code, ttl_seconds: ttl };
    uow.notify(Notice::new(new_email, code_mail));
    let requested = NoticeKind::EmailChangeRequested { new: new_email.clone() };
    uow.notify(Notice::new(&email, requested));
    uow.commit(state)?;
    Ok(PendingChange { email, pending_email: new_email.clone(), expires_in: ttl })
}

/// Confirms the pending change with `code`: the account moves to the new address (the database's
/// UNIQUE constraint decides a race with a registration of it), the old address is free, sessions
/// stay, and a notice goes to the old address. Returns the new profile.
///
/// Errors: 401, 409 [`Error::NoPendingChange`] | [`Error::EmailTaken`] (the change is cancelled),
/// 422 [`Error::WrongCode`], 410 [`Error::ChangeAttemptsExhausted`] | [`Error::ChangeCodeExpired`]
/// (the change is cancelled), 503.
pub fn confirm(
    state: &AppState,
    ctx: &Context,
    session: &SessionRef,
    code: &VerificationCode,
) -> Result<Profile, Error> {
    let mut client = db::checkout(&state.pool)?;
    let mut uow = UnitOfWork::begin(&mut client, ctx)?;
    let account = account_sql::lock_account(uow.tx(), session)?.ok_or(Error::InvalidToken)?;
    let change = email_changes::lock(uow.tx(), account, code)?.ok_or(Error::NoPendingChange)?;
    let id = change.account_id;
    let result = match decide(change.snapshot, state.config.mailed_codes.max_attempts) {
        CodeOutcome::Accepted => match email_changes::swap(uow.tx(), id, &change.new_email) {
            Err(Error::EmailTaken) => {
                drop(uow); // aborted by the unique violation: roll back, then cancel
                email_changes::cancel(&mut *client, id)?;
                return Err(Error::EmailTaken);
            }
            Ok(profile) => {
                let details = json!({ "old_email": change.email.as_str(),
                                      "new_email": change.new_email.as_str() });
                uow.record_with(Subject::Account(id), Some(id), AuditAction::EmailChanged, details);
                let changed = NoticeKind::EmailChanged { new: change.new_email.clone() };
                uow.notify(Notice::new(&change.email, changed));
                let event =
                    UserEvent::new(UserEventType::EmailChanged, id, change.new_email.as_str());
                uow.publish(event.with(json!({ "previous_email": change.email.as_str() })));
                Ok(profile)
            }
            Err(other) => return Err(other),
        },
        CodeOutcome::WrongCode { attempts_remaining } => {
            email_changes::record_wrong_attempt(uow.tx(), id)
                .and(Err(Error::WrongCode { attempts_remaining }))
        }
        CodeOutcome::Exhausted => {
            email_changes::cancel(uow.tx(), id).and(Err(Error::ChangeAttemptsExhausted))
        }
        CodeOutcome::Expired => {
            email_changes::cancel(uow.tx(), id).and(Err(Error::ChangeCodeExpired))
        }
    };
    if let Err(Error::Internal(_) | Error::Unavailable) = &result {
        return result;
    }
    uow.commit(state)?;
    result
}
