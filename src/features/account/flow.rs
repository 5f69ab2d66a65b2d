//! `GET /me`, `PATCH /me`, `POST /me/password`, `DELETE /me`: the account behind a session.

use super::sql::{self, SessionAccount};
use crate::app::AppState;
use crate::context::Context;
use crate::db;
use crate::domain::{
    AuditAction, DisplayName, Email, Password, Profile, SessionRef, UserEvent, UserEventType,
};
use crate::error::Error;
use crate::features::admin::sql as admin_sql;
use crate::features::credentials::flow as credentials;
use crate::features::rate_limits::flow as limits;
use crate::mail::{Notice, NoticeKind};
use crate::security::hashing;
use crate::uow::{Subject, UnitOfWork};
use serde_json::json;

/// The session's profile. Errors: 401 [`Error::InvalidToken`].
pub fn profile(state: &AppState, session: &SessionRef) -> Result<Profile, Error> {
    sql::profile(&mut *db::checkout(&state.pool)?, session)?.ok_or(Error::InvalidToken)
}

/// Sets or clears the display name (`user.updated` when it changes); returns the new profile.
/// Errors: 401.
pub fn update_display_name(
    state: &AppState,
    ctx: &Context,
    session: &SessionRef,
    display_name: Option<&DisplayName>,
) -> Result<Profile, Error> {
    let name = display_name.map(DisplayName::as_str);
    let mut client = db::checkout(&state.pool)?;
    let mut uow = UnitOfWork::begin(&mut client, ctx)?;
    let renamed = sql::update_display_name(uow.tx(), session, name)?.ok_or(Error::InvalidToken)?;
    let profile = renamed.profile;
    if renamed.changed {
        let event = UserEvent::new(UserEventType::Updated, renamed.id, profile.email.as_str());
        uow.publish(event.with(json!({ "display_name": profile.display_name })));
    }
    uow.commit(state)?;
    Ok(profile)
}

/// Changes the password after checking the current one; every other session is revoked in the
/// same statement, and a notice is mailed (tried before the answer; a failed try is retried and
/// does not undo the change).
///
/// Errors: 401 (also when another change committed between the check and this one), 403
/// [`Error::WrongPassword`] (counts as a login failure), 429.
pub fn change_password(
    state: &AppState,
    ctx: &Context,
    session: &SessionRef,
    current: &str,
    new: &Password,
) -> Result<(), Error> {
    let (account, email) = confirm(state, ctx, session, Some(current))?;
    if !account.password_set {
        return Err(Error::PasswordNotSet); // one is set only by the reset flow: mailbox proof
    }
    let new_hash = hashing::hash(new, state.config.credentials.bcrypt_cost)?;
    let mut client = db::checkout(&state.pool)?;
    let mut uow = UnitOfWork::begin(&mut client, ctx)?;
    let (id, version) = (account.account_id, account.credential_version);
    if !sql::change_password(uow.tx(), id, version, &new_hash, session.id)? {
        return Err(Error::InvalidToken); // changed meanwhile: this session is no longer valid
    }
    uow.record(Subject::Account(id), Some(id), AuditAction::PasswordChanged);
    uow.notify(Notice::new(&email, NoticeKind::PasswordChanged));
    let event = UserEvent::new(UserEventType::PasswordChanged, id, email.as_str());
    uow.publish(event.with(json!({ "via": "change" })));
    uow.commit_for_answer(state)?.deliver(state, client);
    Ok(())
}

/// Deletes the account and all its sessions after checking the password, then mails a
/// confirmation (tried before the answer). The email can be registered again at once. One event
/// stays, with the account's id and nothing else about it (no address, no request). Errors: 401
/// (also when the password changed between the check and the deletion), 403, 409
/// [`Error::LastAdmin`], 429.
pub fn delete(
    state: &AppState,
    ctx: &Context,
    session: &SessionRef,
    password: Option<&str>,
) -> Result<(), Error> {
    let (account, email) = confirm(state, ctx, session, password)?;
    let (id, version) = (account.account_id, account.credential_version);
    let mut client = db::checkout(&state.pool)?;
    let mut uow = UnitOfWork::begin(&mut client, &Context::system())?;
    // The last enabled administrator cannot leave the service without one.
    if admin_sql::lock_target(uow.tx(), id)?.is_some_and(|t| t.last_admin) {
        return Err(Error::LastAdmin);
    }
    if !sql::delete_account(uow.tx(), id, Some(version))? {
        return Err(Error::InvalidToken); // password changed or account deleted meanwhile
    }
    let details = json!({ "account_id": id });
    uow.record_with(Subject::None, None, AuditAction::AccountDeleted, details);
    uow.notify(Notice::new(&email, NoticeKind::AccountDeleted));
    let event = UserEvent::new(UserEventType::Deleted, id, email.as_str());
    uow.publish(event.with(json!({ "by": "owner" })));
    uow.commit_for_answer(state)?.deliver(state, client);
    Ok(())
}

/// The session's account, once its password is confirmed. A wrong password counts against the
/// same budget as failed logins (a stolen token must not become a password oracle), reserved
/// before bcrypt runs and given back when the password is right, so parallel re-checks cannot
/// overshoot it (see [`limits::Reservation`]).
///
/// Errors: 401 [`Error::InvalidToken`] (also when the account was deleted while its password was
/// being checked: answered as if the token were already dead, never 500), 403
/// [`Error::WrongPassword`], 429.
pub fn confirm(
    state: &AppState,
    ctx: &Context,
    session: &SessionRef,
    password: Option<&str>,
) -> Result<(SessionAccount, Email), Error> {
    let account =
        sql::account_of(&mut *db::checkout(&state.pool)?, session)?.ok_or(Error::InvalidToken)?;
    let email = account.email.clone();
    if !account.password_set {
        // No password to ask for (an account made from another provider): a recent sign-in
        // stands in for it (contract v3, "Sign in with another provider").
        return if account.recent_sign_in {
            Ok((account, email))
        } else {
            Err(Error::ReauthenticationRequired)
        };
    }
    let password =
        password.ok_or_else(|| Error::InvalidRequest("Field `password` is required.".into()))?;
    let reservation = limits::reserve_login_attempt(state, &email)?;
    let (id, hash) = (account.account_id, &account.password_hash);
    let checked = credentials::check_password(state, id, password, hash);
    reservation.settle(state, matches!(checked, Ok(false)));
    if checked? {
        return Ok((account, email));
    }
    let mut client = db::checkout(&state.pool)?;
    let mut uow = UnitOfWork::begin(&mut client, ctx)?;
    if !uow.hold_account(id)? {
        return Err(Error::InvalidToken); // the account is gone: so is the token
    }
    uow.record(Subject::Account(id), Some(id), AuditAction::WrongPassword);
    uow.commit(state)?;
    Err(Error::WrongPassword)
}
