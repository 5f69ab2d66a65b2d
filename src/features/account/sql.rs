//! SQL of the account behind a session: its profile, its password and its deletion, and the lock
//! every flow that changes a signed-in account's rows takes first.

use crate::db::pool::{Connection, Queries, Tx};
use crate::db::profile_from;
use crate::domain::{Email, Profile, SessionRef};
use crate::error::Error;

/// A display name set: the account, whether the name differs from the one before, the profile.
pub struct Renamed {
    /// The account's id.
    pub id: i64,
    /// False when the name was that already.
    pub changed: bool,
    /// The profile after.
    pub profile: Profile,
}

/// Sets (or with `None` clears) the display name of a live session's account, in one statement.
pub fn update_display_name(
    tx: &mut Tx<'_>,
    session: &SessionRef,
    display_name: Option<&str>,
) -> Result<Option<Renamed>, Error> {
    // `before` is the same row as the statement's snapshot saw it: whether the name changed.
    let sql = concat!(
        "UPDATE accounts a SET display_name = $4 FROM sessions s, accounts before WHERE ",
        live_session!(),
        " AND before.id = a.id RETURNING ",
        profile_columns!(),
        ", a.id, before.display_name IS DISTINCT FROM $4"
    );
    let [id, account, expires] = crate::db::live_params(session);
    let params: [&(dyn postgres::types::ToSql + Sync); 4] = [id, account, expires, &display_name];
    let Some(row) = tx.query_opt(sql, &params)? else { return Ok(None) };
    let (id, changed) = (row.get(row.len() - 2), row.get(row.len() - 1));
    Ok(Some(Renamed { id, changed, profile: profile_from(&row)? }))
}

/// Sets a new password hash and a new credential version, keeps the session `keep` (moved to the
/// new version) and deletes every other session of the account, a pending password reset (a code
/// must not outlive the password it was meant to replace) and a pending change of email, in one
/// statement. Any session made
/// under the old password, even one a racing login inserts after this statement, no longer counts.
///
/// Applies only while the account still has `version`, the one whose password was confirmed:
/// false (nothing changed) when another change committed since. Otherwise a request that checked
/// the old password before the owner's change could land after it.
pub fn change_password(
    tx: &mut Tx<'_>,
    account_id: i64,
    version: i32,
    new_hash: &str,
    keep_session: i64,
) -> Result<bool, Error> {
    let changed = tx.query_one(
        "WITH changed AS (
             UPDATE accounts SET password_hash = $2, credential_version = credential_version + 1
              WHERE id = $1 AND status = 'active' AND credential_version = $4
             RETURNING id, credential_version
         ), kept AS (
             UPDATE sessions s SET credential_version = changed.credential_version
               FROM changed
              WHERE s.account_id = changed.id AND s.id = $3
         ), others AS (
             DELETE FROM sessions WHERE account_id IN (SELECT id FROM changed) AND id <> $3
         ), codes_gone AS (
             DELETE FROM mailed_codes WHERE account_id IN (SELECT id FROM changed)
         ), change_gone AS (
             DELETE FROM email_changes WHERE account_id IN (SELECT id FROM changed)
         )
         SELECT count(*) FROM changed",
        &[&account_id, &new_hash, &keep_session, &version],
    )?;
    Ok(changed.get::<_, i64>(0) == 1)
}

/// Deletes the account, if it still has credential `version` (the one whose password was
/// confirmed; `None`: whatever it is, for an administrator); its sessions and its audit events go
/// with it (`ON DELETE CASCADE`). No soft delete. False if nothing was deleted.
pub fn delete_account(
    tx: &mut Tx<'_>,
    account_id: i64,
    version: Option<i32>,
) -> Result<bool, Error> {
    let deleted = tx.execute(
        "DELETE FROM accounts WHERE id = $1 AND ($2::int IS NULL OR credential_version = $2)",
        &[&account_id, &version],
    )?;
    Ok(deleted > 0)
}

/// The account behind a live session, for operations that re-check the password.
#[derive(Debug, Clone)]
pub struct SessionAccount {
    /// `accounts.id`.
    pub account_id: i64,
    /// Its address.
    pub email: Email,
    /// bcrypt hash.
    pub password_hash: String,
    /// The credential version the password was read with: a change or deletion confirmed with
    /// this password applies only while it is still current.
    pub credential_version: i32,
    /// False for an account made from another provider until the reset flow sets a password.
    pub password_set: bool,
    /// The session signed in within the last 5 minutes (database clock): what an account without
    /// a password shows instead of one.
    pub recent_sign_in: bool,
}

/// Locks the account of a live session (`FOR UPDATE`: strong enough for a change of its email) and
/// returns its id; the first step of the transactions that change a signed-in account's rows, so
/// they queue on the account rather than deadlock on the rows that hang off it.
pub fn lock_account(tx: &mut Tx<'_>, session: &SessionRef) -> Result<Option<i64>, Error> {
    Ok(lock_account_and_email(tx, session)?.map(|(id, _)| id))
}

/// [`lock_account`], also returning the account's address (for a notice).
///
/// Asked a second time when the first finds no live session: a statement that waited for the
/// account's lock re-reads the account as committed meanwhile but the session as it was when
/// the statement began (PostgreSQL's re-check of a locked row), so a password change that kept
/// this session (a new `credential_version` on both rows) would look as if it had ended it. The
/// second statement sees both as they are now; a session that really ended is not found twice.
pub fn lock_account_and_email(
    tx: &mut Tx<'_>,
    session: &SessionRef,
) -> Result<Option<(i64, Email)>, Error> {
    let sql = concat!(
        "SELECT a.id, a.email FROM sessions s, accounts a WHERE ",
        live_session!(),
        " FOR UPDATE OF a"
    );
    let params = crate::db::live_params(session);
    let row = match tx.query_opt(sql, &params)? {
        Some(row) => Some(row),
        None => tx.query_opt(sql, &params)?,
    };
    row.map(|r| Ok((r.get(0), r.try_get(1)?))).transpose()
}

/// The profile of a live session's account.
pub fn profile(client: &mut Connection, session: &SessionRef) -> Result<Option<Profile>, Error> {
    let sql = concat!(
        "SELECT ",
        profile_columns!(),
        " FROM sessions s, accounts a WHERE ",
        live_session!()
    );
    let row = client.query_opt(sql, &crate::db::live_params(session))?;
    row.as_ref().map(profile_from).transpose()
}

/// The account behind a live session, with its password hash.
pub fn account_of(
    client: &mut Connection,
    session: &SessionRef,
) -> Result<Option<SessionAccount>, Error> {
    let sql = concat!(
        "SELECT a.id, a.email, a.password_hash, a.credential_version, a.password_set,
                s.created_at > now() - interval '5 minutes'
           FROM sessions s, accounts a
          WHERE ",
        live_session!()
    );
    let row = client.query_opt(sql, &crate::db::live_params(session))?;
    row.map(|r| {
        Ok(SessionAccount {
            account_id: r.get(0),
            email: r.try_get(1)?,
            password_hash: r.get(2),
            credential_version: r.get(3),
            password_set: r.get(4),
            recent_sign_in: r.get(5),
        })
    })
    .transpose()
}
