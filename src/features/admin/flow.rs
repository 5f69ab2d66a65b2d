//! The admin API (`/admin/...`) and the `beefirst admin grant|revoke` subcommand.
//!
//! Every admin request reads the caller's role from the database (a demoted administrator loses
//! access at its next request), and every change records an audit event with the administrator
//! as the actor, in the same transaction.

use super::sql::{self as admin, AdminUser, Target, UserFilter};
use crate::app::AppState;
use crate::config::WebhookSettings;
use crate::context::Context;
use crate::db::{self, Pool, page};
use crate::domain::{AuditAction, Email, Role, SessionRef, UserEvent, UserEventType};
use crate::error::Error;
use crate::features::account::sql as account_sql;
use crate::mail::{Notice, NoticeKind};
use crate::uow::{Subject, UnitOfWork};
use serde_json::json;

/// What an administrator can do to an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Revoke its sessions and refuse its logins (403 `account_disabled`).
    Disable,
    /// Undo [`Action::Disable`].
    Enable,
    /// Delete it with everything it owns; a notice is mailed.
    Delete,
    /// Revoke every session.
    RevokeSessions,
}

/// The caller's account id, if the session is live and its account an administrator.
/// Errors: 401 [`Error::InvalidToken`], 403 [`Error::Forbidden`].
pub fn authorize(state: &AppState, session: &SessionRef) -> Result<i64, Error> {
    match admin::caller(&mut *db::checkout(&state.pool)?, session)? {
        None => Err(Error::InvalidToken),
        Some((id, Role::Admin)) => Ok(id),
        Some(_) => Err(Error::Forbidden),
    }
}

/// A page of accounts and the cursor of the next (`None`: last page).
pub fn list(
    state: &AppState,
    filter: &UserFilter,
    limit: i64,
) -> Result<(Vec<AdminUser>, Option<i64>), Error> {
    let users = admin::list(&mut *db::checkout(&state.pool)?, filter, limit + 1)?;
    Ok(page(users, limit, |u| u.id))
}

/// One account. Errors: 404 [`Error::UserNotFound`].
pub fn get(state: &AppState, id: i64) -> Result<AdminUser, Error> {
    admin::get(&mut *db::checkout(&state.pool)?, id)?.ok_or(Error::UserNotFound)
}

/// Sets account `id`'s role and returns it. Errors: 404, 409 [`Error::LastAdmin`] |
/// [`Error::AccountPending`].
pub fn set_role(
    state: &AppState,
    ctx: &Context,
    actor: i64,
    id: i64,
    role: Role,
) -> Result<AdminUser, Error> {
    let mut client = db::checkout(&state.pool)?;
    let mut uow = UnitOfWork::begin(&mut client, ctx)?;
    let target = lock_for(&mut uow, actor, id)?;
    if !target.active {
        return Err(Error::AccountPending);
    }
    if target.last_admin && role != Role::Admin {
        return Err(Error::LastAdmin);
    }
    admin::set_role(uow.tx(), id, role)?;
    let details = json!({ "role": role.as_str(), "via": "api" });
    uow.record_with(Subject::Account(id), Some(actor), AuditAction::RoleChanged, details);
    if target.role != role {
        uow.publish(role_changed(id, &target.email, role));
    }
    let user = admin::get(uow.tx(), id)?.ok_or(Error::UserNotFound)?;
    uow.commit(state)?;
    Ok(user)
}

/// Applies `action` to account `id`. Errors: 404, 409 [`Error::LastAdmin`] (disabling or deleting
/// the only enabled administrator).
pub fn act(
    state: &AppState,
    ctx: &Context,
    actor: i64,
    id: i64,
    action: Action,
) -> Result<(), Error> {
    let mut client = db::checkout(&state.pool)?;
    let mut uow = UnitOfWork::begin(&mut client, ctx)?;
    let target = lock_for(&mut uow, actor, id)?;
    if target.last_admin && matches!(action, Action::Disable | Action::Delete) {
        return Err(Error::LastAdmin);
    }
    let subject = Subject::Account(id);
    // A pending claim never was an account to other systems, and a change to the state the
    // account is in already changes nothing: no event about either.
    let event = |kind, changes: bool| {
        (target.active && changes).then(|| UserEvent::new(kind, id, &target.email))
    };
    match action {
        Action::Disable => {
            admin::disable(uow.tx(), id)?;
            uow.record(subject, Some(actor), AuditAction::AccountDisabled);
            event(UserEventType::Disabled, !target.disabled)
                .into_iter()
                .for_each(|e| uow.publish(e));
        }
        Action::Enable => {
            admin::enable(uow.tx(), id)?;
            uow.record(subject, Some(actor), AuditAction::AccountEnabled);
            event(UserEventType::Enabled, target.disabled).into_iter().for_each(|e| uow.publish(e));
        }
        Action::RevokeSessions => {
            let gone = admin::revoke_sessions(uow.tx(), id)?;
            let details = json!({ "sessions": gone });
            uow.record_with(subject, Some(actor), AuditAction::SessionsRevoked, details);
        }
        Action::Delete => {
            let user = admin::get(uow.tx(), id)?.ok_or(Error::UserNotFound)?;
            account_sql::delete_account(uow.tx(), id, None)?;
            let details = json!({ "account_id": id });
            uow.record_with(Subject::None, Some(actor), AuditAction::AccountDeleted, details);
            uow.notify(Notice::new(&user.email, NoticeKind::AccountDeletedByAdmin));
            let deleted =
                event(UserEventType::Deleted, true).map(|e| e.with(json!({ "by": "admin" })));
            deleted.into_iter().for_each(|e| uow.publish(e));
        }
    }
    uow.commit(state)
}

/// `user.role_changed` for account `id`, now `role`.
fn role_changed(id: i64, email: &str, role: Role) -> UserEvent {
    UserEvent::new(UserEventType::RoleChanged, id, email).with(json!({ "role": role.as_str() }))
}

/// Locks target `id` under the admin lock, then checks that `actor` is still an enabled
/// administrator (the request's first check ran before the lock). Errors: 403, 404.
fn lock_for(uow: &mut UnitOfWork<'_>, actor: i64, id: i64) -> Result<Target, Error> {
    let target = admin::lock_target(uow.tx(), id)?;
    if !admin::still_admin(uow.tx(), actor)? {
        return Err(Error::Forbidden);
    }
    target.ok_or(Error::UserNotFound)
}

/// Why the `admin` subcommand failed: one line for stderr, exit code 1.
#[derive(Debug, PartialEq, Eq)]
pub struct CommandError(pub String);

/// `beefirst admin grant|revoke EMAIL`: sets the role of the active account `email`; the line to
/// print on success. Errors: no such active account, the last enabled administrator.
pub fn set_role_by_email(
    pool: &Pool,
    webhooks: &WebhookSettings,
    email: &Email,
    role: Role,
) -> Result<String, CommandError> {
    let fail = |e: Error| CommandError(format!("database error: {e}"));
    let mut client = db::checkout(pool).map_err(fail)?;
    let mut uow = UnitOfWork::begin(&mut client, &Context::system()).map_err(fail)?;
    admin::take_lock(uow.tx()).map_err(fail)?;
    let id = admin::id_of(uow.tx(), email).map_err(fail)?.ok_or_else(|| {
        CommandError(format!("no active account has the email {}", email.as_str()))
    })?;
    let target = admin::lock_target(uow.tx(), id).map_err(fail)?;
    let (last_admin, unchanged) = target.map_or((false, false), |t| (t.last_admin, t.role == role));
    if last_admin && role != Role::Admin {
        let email = email.as_str();
        return Err(CommandError(format!("{email} is the last administrator: make another first")));
    }
    admin::set_role(uow.tx(), id, role).map_err(fail)?;
    let details = json!({ "role": role.as_str(), "via": "cli" });
    uow.record_with(Subject::Account(id), None, AuditAction::RoleChanged, details);
    if !unchanged {
        uow.publish(role_changed(id, email.as_str(), role));
    }
    uow.commit_without_mail(webhooks).map_err(fail)?;
    Ok(format!("{} now has the role {}", email.as_str(), role.as_str()))
}
