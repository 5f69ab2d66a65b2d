//! SQL of passkeys: the `passkeys` rows of an account; the single-use ceremonies between a
//! ceremony's options and its response are in [`ceremonies`].

pub mod ceremonies;

use crate::db::pool::{Connection, Queries, Tx};
use crate::domain::passkey::MAX_PASSKEYS;
use crate::domain::{Email, SessionRef};
use crate::error::Error;

/// A passkey as its owner sees it.
#[derive(Debug, Clone)]
pub struct PasskeyInfo {
    /// `passkeys.id`.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// RFC 3339 UTC; `None` until it first signs in.
    pub last_used_at: Option<String>,
}

/// The columns of [`PasskeyInfo`] for passkey `p`, read by [`info_from`].
macro_rules! info_columns {
    () => {
        concat!("p.id, p.name, ", rfc3339!("p.created_at"), ", ", rfc3339!("p.last_used_at"))
    };
}

fn info_from(row: &postgres::Row, at: usize) -> PasskeyInfo {
    PasskeyInfo {
        id: row.get(at),
        name: row.get(at + 1),
        created_at: row.get(at + 2),
        last_used_at: row.get(at + 3),
    }
}

/// What a registration needs of an account.
#[derive(Debug, Clone)]
pub struct RegistrationBasis {
    /// The account's WebAuthn user handle.
    pub user_handle: Vec<u8>,
    /// Its passkeys' credential IDs (excluded, so an authenticator does not register twice).
    pub credential_ids: Vec<Vec<u8>>,
}

/// The [`RegistrationBasis`] of the active account `account_id`, in one statement that gives it
/// the user handle `fresh` if it has none yet (under the row's lock: parallel registrations get
/// one handle). `None`: the account is gone.
pub fn registration_basis(
    client: &mut Connection,
    account_id: i64,
    fresh: &[u8],
) -> Result<Option<RegistrationBasis>, Error> {
    let rows = client.query(
        "WITH handle AS (
             UPDATE accounts SET passkey_user_handle = coalesce(passkey_user_handle, $2)
              WHERE id = $1 AND status = 'active'
             RETURNING passkey_user_handle
         )
         SELECT handle.passkey_user_handle, p.credential_id
           FROM handle LEFT JOIN passkeys p ON p.account_id = $1
          ORDER BY p.id",
        &[&account_id, &fresh],
    )?;
    let Some(first) = rows.first() else { return Ok(None) };
    Ok(Some(RegistrationBasis {
        user_handle: first.get(0),
        credential_ids: rows.iter().filter_map(|r| r.get(1)).collect(),
    }))
}

/// Adds a verified passkey to the locked account `account_id`; `None` when that credential ID is
/// already registered (to any account) or the account holds `MAX_PASSKEYS` already.
pub fn insert(
    tx: &mut Tx<'_>,
    account_id: i64,
    credential_id: &[u8],
    user_handle: &[u8],
    name: &str,
    stored: &str,
) -> Result<Option<PasskeyInfo>, Error> {
    let sql = concat!(
        "INSERT INTO passkeys AS p (account_id, credential_id, user_handle, name, credential)
         SELECT $1, $2, $3, $4, $5::text::jsonb
          WHERE (SELECT count(*) FROM passkeys WHERE account_id = $1) < $6
         ON CONFLICT (credential_id) DO NOTHING
         RETURNING ",
        info_columns!()
    );
    let most = MAX_PASSKEYS as i64;
    let row =
        tx.query_opt(sql, &[&account_id, &credential_id, &user_handle, &name, &stored, &most])?;
    Ok(row.map(|r| info_from(&r, 0)))
}

/// The passkeys of a live session's account, oldest first; `None` when the session is not live.
pub fn list(
    client: &mut Connection,
    session: &SessionRef,
) -> Result<Option<Vec<PasskeyInfo>>, Error> {
    let sql = concat!(
        "SELECT p.id IS NOT NULL, ",
        info_columns!(),
        " FROM sessions s, accounts a LEFT JOIN passkeys p ON p.account_id = a.id WHERE ",
        live_session!(),
        " ORDER BY p.id"
    );
    let rows = client.query(sql, &crate::db::live_params(session))?;
    if rows.is_empty() {
        return Ok(None);
    }
    Ok(Some(rows.iter().filter(|r| r.get::<_, bool>(0)).map(|r| info_from(r, 1)).collect()))
}

/// Renames passkey `id` of the locked account `account_id`; `None` when it has no such passkey.
pub fn rename(
    tx: &mut Tx<'_>,
    account_id: i64,
    id: i64,
    name: &str,
) -> Result<Option<PasskeyInfo>, Error> {
    let sql = concat!(
        "UPDATE passkeys p SET name = $3 WHERE p.id = $2 AND p.account_id = $1 RETURNING ",
        info_columns!()
    );
    Ok(tx.query_opt(sql, &[&account_id, &id, &name])?.map(|r| info_from(&r, 0)))
}

/// What [`delete`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deleted {
    /// Gone; it was called this.
    Deleted { name: String },
    /// Not one of the account's passkeys.
    NotFound,
    /// Kept: nothing else could sign in to the account.
    LastSignInMethod,
}

/// Deletes passkey `id` of the locked account `account_id` unless it is the account's last way
/// to sign in (no password, no other passkey, no provider identity), in one statement.
pub fn delete(tx: &mut Tx<'_>, account_id: i64, id: i64) -> Result<Deleted, Error> {
    let sql = concat!(
        "WITH target AS (
             SELECT id, name FROM passkeys WHERE id = $2 AND account_id = $1
         ), others AS (
             SELECT ",
        another_way_to_sign_in!("passkeys"),
        " AS ok
         ), gone AS (
             DELETE FROM passkeys p USING target, others WHERE p.id = target.id AND others.ok
         )
         SELECT target.name, others.ok FROM target, others"
    );
    let row = tx.query_opt(sql, &[&account_id, &id])?;
    Ok(match row {
        None => Deleted::NotFound,
        Some(r) if r.get::<_, bool>(1) => Deleted::Deleted { name: r.get(0) },
        Some(_) => Deleted::LastSignInMethod,
    })
}

/// The account a passkey signs in to, locked `FOR NO KEY UPDATE` before the passkey is read (so
/// parallel sign-ins with one passkey queue, and each reads the counter the one before stored).
#[derive(Debug, Clone)]
pub struct PasskeyAccount {
    /// `accounts.id`.
    pub account_id: i64,
    /// Its credential version now.
    pub credential_version: i32,
    /// Disabled by an administrator.
    pub disabled: bool,
    /// Its address (for notices).
    pub email: Email,
}

/// Locks the active account that holds the passkey with `credential_id`; `None`: no such passkey.
pub fn lock_account(
    tx: &mut Tx<'_>,
    credential_id: &[u8],
) -> Result<Option<PasskeyAccount>, Error> {
    let row = tx.query_opt(
        "SELECT a.id, a.credential_version, a.disabled_at IS NOT NULL, a.email
           FROM accounts a WHERE a.status = 'active'
            AND a.id = (SELECT account_id FROM passkeys WHERE credential_id = $1)
            FOR NO KEY UPDATE",
        &[&credential_id],
    )?;
    row.map(|r| {
        Ok(PasskeyAccount {
            account_id: r.get(0),
            credential_version: r.get(1),
            disabled: r.get(2),
            email: r.try_get(3)?,
        })
    })
    .transpose()
}

/// A stored passkey, read after its account was locked.
#[derive(Debug, Clone)]
pub struct StoredPasskey {
    /// `passkeys.id`.
    pub id: i64,
    /// The user handle it was registered with.
    pub user_handle: Vec<u8>,
    /// webauthn-rs's stored form, JSON text.
    pub credential: String,
}

/// The passkey `credential_id` of the locked account `account_id`.
pub fn read(
    tx: &mut Tx<'_>,
    account_id: i64,
    credential_id: &[u8],
) -> Result<Option<StoredPasskey>, Error> {
    let row = tx.query_opt(
        "SELECT id, user_handle, credential::text FROM passkeys
          WHERE credential_id = $1 AND account_id = $2",
        &[&credential_id, &account_id],
    )?;
    Ok(row.map(|r| StoredPasskey { id: r.get(0), user_handle: r.get(1), credential: r.get(2) }))
}

/// Stores what a sign-in changed (counter, backup flags) and when it was used.
pub fn record_use(tx: &mut Tx<'_>, id: i64, credential: &str) -> Result<(), Error> {
    tx.execute(
        "UPDATE passkeys SET credential = $2::text::jsonb, last_used_at = now() WHERE id = $1",
        &[&id, &credential],
    )?;
    Ok(())
}
