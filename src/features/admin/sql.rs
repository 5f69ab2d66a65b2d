//! SQL of the admin API and the `admin` subcommand: reading accounts, changing their role and
//! state. Every change records its audit event in the same transaction, and every change that can
//! take an administrator away first takes [`ADMIN_LOCK`], so two of them can never together leave
//! no enabled administrator.

use crate::db::pool::{Connection, Queries, Tx};
use crate::domain::{Email, Role, SessionRef};
use crate::error::Error;

/// Advisory lock key that serializes changes of who is an enabled administrator.
const ADMIN_LOCK: i64 = 0x6265_6566_6164_6d6e; // "beefadmn"

/// An account as administrators see it.
#[derive(Debug, Clone)]
pub struct AdminUser {
    /// Row id.
    pub id: i64,
    /// Its address.
    pub email: Email,
    /// `pending`, `active` or `disabled`.
    pub status: String,
    /// Its role.
    pub role: Role,
    /// As the owner set it.
    pub display_name: Option<String>,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// RFC 3339 UTC, for activated accounts.
    pub activated_at: Option<String>,
    /// RFC 3339 UTC, while disabled.
    pub disabled_at: Option<String>,
    /// A confirmed second factor.
    pub totp_enabled: bool,
    /// Live sessions.
    pub sessions: i64,
}

/// The columns read by [`user_from`], for accounts `a`.
macro_rules! user_columns {
    () => {
        concat!(
            "a.id, a.email,
             CASE WHEN a.disabled_at IS NOT NULL THEN 'disabled' ELSE a.status END,
             a.role, a.display_name, ",
            rfc3339!("a.created_at"),
            ", ",
            rfc3339!("a.activated_at"),
            ", ",
            rfc3339!("a.disabled_at"),
            ", a.mfa_enabled,
             (SELECT count(*) FROM sessions s
               WHERE s.account_id = a.id AND s.expires_at > now()
                 AND s.credential_version = a.credential_version)"
        )
    };
}

fn user_from(r: &postgres::Row) -> Result<AdminUser, Error> {
    Ok(AdminUser {
        id: r.get(0),
        email: r.try_get(1)?,
        status: r.get(2),
        role: r.try_get(3)?,
        display_name: r.get(4),
        created_at: r.get(5),
        activated_at: r.get(6),
        disabled_at: r.get(7),
        totp_enabled: r.get(8),
        sessions: r.get(9),
    })
}

/// The account id and role behind a live session, read at every admin request (so a demotion
/// takes effect at once).
pub fn caller(client: &mut Connection, session: &SessionRef) -> Result<Option<(i64, Role)>, Error> {
    let sql = concat!("SELECT a.id, a.role FROM sessions s, accounts a WHERE ", live_session!());
    let row = client.query_opt(sql, &crate::db::live_params(session))?;
    row.map(|r| Ok((r.get(0), r.try_get(1)?))).transpose()
}

/// Filters of the account list.
#[derive(Debug, Default)]
pub struct UserFilter {
    /// Emails starting with this (case as stored: lowercase).
    pub email_prefix: Option<String>,
    /// `pending`, `active` or `disabled`.
    pub status: Option<String>,
    /// Only ids above this (the previous page's last).
    pub after: Option<i64>,
}

/// Up to `limit` accounts matching `filter`, by id (keyset pagination). Planned for the filters
/// given, so an email prefix uses the `accounts_email_prefix` index and `disabled` its partial
/// index, instead of a generic plan that walks every account.
pub fn list(
    client: &mut Connection,
    filter: &UserFilter,
    limit: i64,
) -> Result<Vec<AdminUser>, Error> {
    let pattern = filter.email_prefix.as_deref().map(|prefix| {
        let escaped = prefix.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        format!("{escaped}%")
    });
    let disabled_only = filter.status.as_deref() == Some("disabled");
    let status = filter.status.as_deref().filter(|s| *s != "disabled");
    let rows = client.query_planned(
        concat!(
            "SELECT ",
            user_columns!(),
            " FROM accounts a
              WHERE ($1::text IS NULL OR a.email LIKE $1)
                AND ($2::bool IS NOT TRUE OR a.disabled_at IS NOT NULL)
                AND ($3::text IS NULL OR (a.status = $3 AND a.disabled_at IS NULL))
                AND ($4::bigint IS NULL OR a.id > $4)
              ORDER BY a.id
              LIMIT $5"
        ),
        &[&pattern, &disabled_only, &status, &filter.after, &limit],
    )?;
    rows.iter().map(user_from).collect()
}

/// One account.
pub fn get(client: &mut impl Queries, id: i64) -> Result<Option<AdminUser>, Error> {
    let sql = concat!("SELECT ", user_columns!(), " FROM accounts a WHERE a.id = $1");
    client.query_opt(sql, &[&id])?.as_ref().map(user_from).transpose()
}

/// Takes [`ADMIN_LOCK`] for the rest of the transaction: the first step of every change that can
/// add or take away an enabled administrator (role, disabling, deletion).
pub fn take_lock(tx: &mut Tx<'_>) -> Result<(), Error> {
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&ADMIN_LOCK])?;
    Ok(())
}

/// What [`lock_target`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// An activated account (a pending claim can hold no role: it may be released any minute).
    pub active: bool,
    /// The only enabled, active administrator: taking that away must be refused (409
    /// `last_admin`).
    pub last_admin: bool,
    /// Its address (for the webhook events about it).
    pub email: String,
    /// Disabled by an administrator.
    pub disabled: bool,
    /// Its role now.
    pub role: Role,
}

/// Takes [`ADMIN_LOCK`] and locks account `id` (`FOR UPDATE`). `None`: no such account. Only
/// active, enabled accounts count as administrators.
pub fn lock_target(tx: &mut Tx<'_>, id: i64) -> Result<Option<Target>, Error> {
    take_lock(tx)?;
    let row = tx.query_opt(
        "SELECT a.status = 'active',
                a.role = 'admin' AND a.disabled_at IS NULL AND a.status = 'active'
                AND NOT EXISTS (SELECT 1 FROM accounts o
                                 WHERE o.role = 'admin' AND o.disabled_at IS NULL
                                   AND o.status = 'active' AND o.id <> a.id),
                a.email, a.disabled_at IS NOT NULL, a.role
           FROM accounts a WHERE a.id = $1 FOR UPDATE",
        &[&id],
    )?;
    row.map(|r| {
        Ok(Target {
            active: r.get(0),
            last_admin: r.get(1),
            email: r.get(2),
            disabled: r.get(3),
            role: r.try_get(4)?,
        })
    })
    .transpose()
}

/// True while `actor` is still an enabled, active administrator, read under [`ADMIN_LOCK`] (taken
/// by the caller): an administrator disabled or demoted by a change that committed after the
/// request's first check cannot act any more.
pub fn still_admin(tx: &mut Tx<'_>, actor: i64) -> Result<bool, Error> {
    let row = tx.query_opt(
        "SELECT 1 FROM accounts
          WHERE id = $1 AND role = 'admin' AND disabled_at IS NULL AND status = 'active'
            FOR SHARE",
        &[&actor],
    )?;
    Ok(row.is_some())
}

/// Sets the role of the locked account `id`.
pub fn set_role(tx: &mut Tx<'_>, id: i64, role: Role) -> Result<(), Error> {
    tx.execute("UPDATE accounts SET role = $2 WHERE id = $1", &[&id, &role.as_str()])?;
    Ok(())
}

/// The id of the active account of `email` (the `admin` subcommand; after [`take_lock`]).
pub fn id_of(tx: &mut Tx<'_>, email: &Email) -> Result<Option<i64>, Error> {
    let row = tx.query_opt(
        "SELECT id FROM accounts WHERE email = $1 AND status = 'active'",
        &[&email.as_str()],
    )?;
    Ok(row.map(|r| r.get(0)))
}

/// Disables the locked account: every session, pending MFA challenge, password-reset code and
/// change of email deleted at once. A sign-in code stays until it expires: entered, it answers
/// 403 `account_disabled`, as the right password does.
pub fn disable(tx: &mut Tx<'_>, id: i64) -> Result<(), Error> {
    tx.execute(
        "WITH sessions_gone AS (
             DELETE FROM sessions WHERE account_id = $1
         ), challenges_gone AS (
             DELETE FROM mfa_challenges WHERE account_id = $1
         ), resets_gone AS (
             DELETE FROM mailed_codes WHERE account_id = $1 AND purpose = 'password_reset'
         ), changes_gone AS (
             DELETE FROM email_changes WHERE account_id = $1
         )
         UPDATE accounts SET disabled_at = coalesce(disabled_at, now()) WHERE id = $1",
        &[&id],
    )?;
    Ok(())
}

/// Enables the locked account again.
pub fn enable(tx: &mut Tx<'_>, id: i64) -> Result<(), Error> {
    tx.execute("UPDATE accounts SET disabled_at = NULL WHERE id = $1", &[&id])?;
    Ok(())
}

/// Deletes every session of the locked account; returns how many.
pub fn revoke_sessions(tx: &mut Tx<'_>, id: i64) -> Result<u64, Error> {
    Ok(tx.execute("DELETE FROM sessions WHERE account_id = $1", &[&id])?)
}
