//! The admin API (`/admin/...`) and the `beefirst admin grant|revoke` subcommand.
//!
//! Every admin request reads the caller's role from the database (a demoted administrator loses
//! access at its next request), and every change records an audit event with the administrator
//! as the actor, in the same transaction.

use super::AppState;
use crate::domain::SessionRef;
use crate::error::Error;
use crate::mail::account_deleted_by_admin_message;
use crate::store::admin::{AdminUser, UserFilter};
use crate::store::audit::{Event, EventFilter};
use crate::store::pool::Tx;
use crate::store::{self, Pool, admin, outbox};

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
    match admin::caller(&mut *store::checkout(&state.pool)?, session)? {
        None => Err(Error::InvalidToken),
        Some((id, role)) if role == "admin" => Ok(id),
        Some(_) => Err(Error::Forbidden),
    }
}

/// A page of accounts and the cursor of the next (`None`: last page).
pub fn list(
    state: &AppState,
    filter: &UserFilter,
    limit: i64,
) -> Result<(Vec<AdminUser>, Option<i64>), Error> {
    let users = admin::list(&mut *store::checkout(&state.pool)?, filter, limit + 1)?;
    Ok(page(users, limit, |u| u.id))
}

/// A keyset page from `rows` fetched with one row more than `limit`: the first `limit` rows, and
/// the id of the last of them if there is more (the next page's cursor).
fn page<T>(mut rows: Vec<T>, limit: i64, id: impl Fn(&T) -> i64) -> (Vec<T>, Option<i64>) {
    let more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    let next = if more { rows.last().map(id) } else { None };
    (rows, next)
}

/// One account. Errors: 404 [`Error::UserNotFound`].
pub fn get(state: &AppState, id: i64) -> Result<AdminUser, Error> {
    admin::get(&mut *store::checkout(&state.pool)?, id)?.ok_or(Error::UserNotFound)
}

/// Sets account `id`'s role and returns it. Errors: 404, 409 [`Error::LastAdmin`].
pub fn set_role(state: &AppState, actor: i64, id: i64, role: &str) -> Result<AdminUser, Error> {
    let mut client = store::checkout(&state.pool)?;
    let mut tx = client.begin()?;
    let target = lock_for(&mut tx, actor, id)?;
    if !target.active {
        return Err(Error::AccountPending);
    }
    if target.last_admin && role != "admin" {
        return Err(Error::LastAdmin);
    }
    admin::set_role(&mut tx, id, role, Some(actor))?;
    let user = admin::get(&mut tx, id)?.ok_or(Error::UserNotFound)?;
    tx.commit()?;
    Ok(user)
}

/// Applies `action` to account `id`. Errors: 404, 409 [`Error::LastAdmin`] (disabling or deleting
/// the only enabled administrator).
pub fn act(state: &AppState, actor: i64, id: i64, action: Action) -> Result<(), Error> {
    let mut client = store::checkout(&state.pool)?;
    let mut tx = client.begin()?;
    let target = lock_for(&mut tx, actor, id)?;
    if target.last_admin && matches!(action, Action::Disable | Action::Delete) {
        return Err(Error::LastAdmin);
    }
    match action {
        Action::Disable => admin::disable(&mut tx, id, actor)?,
        Action::Enable => admin::enable(&mut tx, id, actor)?,
        Action::RevokeSessions => admin::revoke_sessions(&mut tx, id, actor)?,
        Action::Delete => {
            let user = admin::get(&mut tx, id)?.ok_or(Error::UserNotFound)?;
            if let Ok(email) = crate::domain::Email::parse(&user.email) {
                let notice = account_deleted_by_admin_message(&email);
                outbox::enqueue(&mut tx, "account_deleted", &notice)?;
            }
            store::accounts::delete_account(&mut tx, id, None, Some(actor))?;
        }
    }
    tx.commit()?;
    state.outbox.wake();
    Ok(())
}

/// Locks target `id` under the admin lock, then checks that `actor` is still an enabled
/// administrator (the request's first check ran before the lock). Errors: 403, 404.
fn lock_for(tx: &mut Tx<'_>, actor: i64, id: i64) -> Result<admin::Target, Error> {
    let target = admin::lock_target(tx, id)?;
    if !admin::still_admin(tx, actor)? {
        return Err(Error::Forbidden);
    }
    target.ok_or(Error::UserNotFound)
}

/// A page of audit events (newest first) and the cursor of the next.
pub fn events(
    state: &AppState,
    filter: &EventFilter,
    limit: i64,
) -> Result<(Vec<Event>, Option<i64>), Error> {
    let events = store::audit::list(&mut *store::checkout(&state.pool)?, filter, limit + 1)?;
    Ok(page(events, limit, |e| e.id))
}

/// The caller's own events (`GET /me/events`). Errors: 401.
pub fn own_events(
    state: &AppState,
    session: &SessionRef,
    before: Option<i64>,
    limit: i64,
) -> Result<(Vec<Event>, Option<i64>), Error> {
    let mut client = store::checkout(&state.pool)?;
    let account = store::sessions::account_of(&mut client, session)?.ok_or(Error::InvalidToken)?;
    drop(client);
    let filter = EventFilter { account_id: Some(account.account_id), action: None, before };
    events(state, &filter, limit)
}

/// Why the `admin` subcommand failed: one line for stderr, exit code 1.
#[derive(Debug, PartialEq, Eq)]
pub struct CommandError(pub String);

/// `beefirst admin grant|revoke EMAIL`: sets the role of the active account `email`; the line to
/// print on success. Errors: no such active account, the last enabled administrator.
pub fn set_role_by_email(pool: &Pool, email: &str, role: &str) -> Result<String, CommandError> {
    let fail = |e: Error| CommandError(format!("database error: {e}"));
    let mut client = store::checkout(pool).map_err(fail)?;
    let mut tx = client.begin().map_err(|e| fail(e.into()))?;
    admin::take_lock(&mut tx).map_err(fail)?;
    let id = admin::id_of(&mut tx, email)
        .map_err(fail)?
        .ok_or_else(|| CommandError(format!("no active account has the email {email}")))?;
    let last_admin = admin::lock_target(&mut tx, id).map_err(fail)?.is_some_and(|t| t.last_admin);
    if last_admin && role != "admin" {
        return Err(CommandError(format!("{email} is the last administrator: make another first")));
    }
    admin::set_role(&mut tx, id, role, None).map_err(fail)?;
    tx.commit().map_err(|e| fail(e.into()))?;
    Ok(format!("{email} now has the role {role}"))
}
