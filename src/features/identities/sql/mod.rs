//! SQL of provider identities: finding the account an identity signs in to, making an account
//! from a provider-verified email, linking and unlinking. The short-lived secrets of a sign-in are
//! in [`states`].

pub mod states;

use crate::db::pool::{Connection, Queries, Tx};
use crate::domain::{Email, SessionRef};
use crate::error::Error;

/// The account an identity signs in to, locked `FOR NO KEY UPDATE`.
#[derive(Debug, Clone, Copy)]
pub struct LinkedAccount {
    /// `accounts.id`.
    pub account_id: i64,
    /// Its credential version.
    pub credential_version: i32,
    /// Disabled by an administrator.
    pub disabled: bool,
}

/// The active account linked to `provider`'s `subject`, locked; `None`: a new identity.
pub fn linked_account(
    tx: &mut Tx<'_>,
    provider: &str,
    subject: &str,
) -> Result<Option<LinkedAccount>, Error> {
    let row = tx.query_opt(
        "SELECT a.id, a.credential_version, a.disabled_at IS NOT NULL
           FROM identities i JOIN accounts a ON a.id = i.account_id
          WHERE i.provider = $1 AND i.subject = $2 AND a.status = 'active'
            FOR NO KEY UPDATE OF a",
        &[&provider, &subject],
    )?;
    Ok(row.map(|r| LinkedAccount {
        account_id: r.get(0),
        credential_version: r.get(1),
        disabled: r.get(2),
    }))
}

/// Locks the active account `account_id` (the one that asked for a link); `None`: gone.
pub fn lock_linking_account(
    tx: &mut Tx<'_>,
    account_id: i64,
) -> Result<Option<LinkedAccount>, Error> {
    let row = tx.query_opt(
        "SELECT id, credential_version, disabled_at IS NOT NULL FROM accounts
          WHERE id = $1 AND status = 'active' FOR NO KEY UPDATE",
        &[&account_id],
    )?;
    Ok(row.map(|r| LinkedAccount {
        account_id: r.get(0),
        credential_version: r.get(1),
        disabled: r.get(2),
    }))
}

/// What [`create_account`] did.
#[derive(Debug, Clone, Copy)]
pub enum Created {
    /// The account, linked to the identity.
    Account(LinkedAccount),
    /// An active account holds the email.
    EmailTaken,
    /// A racing sign-in linked the identity first; the caller must roll back (the account row
    /// of this statement is in the transaction).
    IdentityTaken,
}

/// Makes an active account without a password for `email` (its `password_hash` is
/// `unusable_hash`, of a secret nobody knows) and links `provider`'s `subject` to it, in one
/// statement. A pending claim of the email gives way: it becomes this account, its password and
/// code dropped (the provider proved the mailbox; the claimant had not yet).
pub fn create_account(
    tx: &mut Tx<'_>,
    email: &Email,
    unusable_hash: &str,
    provider: &str,
    subject: &str,
) -> Result<Created, Error> {
    let row = tx.query_opt(
        "WITH made AS (
             INSERT INTO accounts (email, password_hash, status, activated_at, password_set)
             VALUES ($1, $2, 'active', now(), false)
             ON CONFLICT (email) DO UPDATE
                SET password_hash = EXCLUDED.password_hash, status = 'active',
                    activated_at = now(), password_set = false, code_hash = NULL,
                    code_salt = NULL, code_expires_at = NULL, wrong_attempts = 0, resends = 0,
                    credential_version = accounts.credential_version + 1, created_at = now()
              WHERE accounts.status = 'pending'
             RETURNING id, credential_version
         ), linked AS (
             INSERT INTO identities (account_id, provider, subject, email)
             SELECT id, $3, $4, $1 FROM made
             ON CONFLICT (provider, subject) DO NOTHING
             RETURNING 1
         )
         SELECT id, credential_version, EXISTS (SELECT 1 FROM linked) FROM made",
        &[&email.as_str(), &unusable_hash, &provider, &subject],
    )?;
    Ok(match row {
        None => Created::EmailTaken,
        Some(r) if !r.get::<_, bool>(2) => Created::IdentityTaken,
        Some(r) => Created::Account(LinkedAccount {
            account_id: r.get(0),
            credential_version: r.get(1),
            disabled: false,
        }),
    })
}

/// Links `provider`'s `subject` to the locked account `account_id`. False: that identity is
/// linked already (to this or another account).
pub fn link(
    tx: &mut Tx<'_>,
    account_id: i64,
    provider: &str,
    subject: &str,
    email: Option<&str>,
) -> Result<bool, Error> {
    let linked = tx.execute(
        "INSERT INTO identities (account_id, provider, subject, email) VALUES ($1, $2, $3, $4)
         ON CONFLICT (provider, subject) DO NOTHING",
        &[&account_id, &provider, &subject, &email],
    )?;
    Ok(linked == 1)
}

/// A linked identity as its owner sees it.
#[derive(Debug, Clone)]
pub struct IdentityInfo {
    /// `identities.id`.
    pub id: i64,
    /// The provider's name.
    pub provider: String,
    /// The email the provider gave, if any.
    pub email: Option<String>,
    /// RFC 3339 UTC.
    pub created_at: String,
}

/// The identities of a live session's account, oldest first; `None` when the session is not live.
pub fn list(
    client: &mut Connection,
    session: &SessionRef,
) -> Result<Option<Vec<IdentityInfo>>, Error> {
    let sql = concat!(
        "SELECT i.id IS NOT NULL, i.id, i.provider, i.email, ",
        rfc3339!("i.created_at"),
        " FROM sessions s, accounts a LEFT JOIN identities i ON i.account_id = a.id WHERE ",
        live_session!(),
        " ORDER BY i.id"
    );
    let rows = client.query(sql, &crate::db::live_params(session))?;
    if rows.is_empty() {
        return Ok(None);
    }
    let linked = rows.iter().filter(|r| r.get::<_, bool>(0));
    Ok(Some(
        linked
            .map(|r| IdentityInfo {
                id: r.get(1),
                provider: r.get(2),
                email: r.get(3),
                created_at: r.get(4),
            })
            .collect(),
    ))
}

/// What [`unlink`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unlinked {
    /// Gone; it was of this provider.
    Unlinked { provider: String },
    /// Not one of the account's identities.
    NotFound,
    /// Kept: nothing else could sign in to the account.
    LastSignInMethod,
}

/// Unlinks identity `id` of the locked account `account_id` unless it is the account's last way
/// to sign in (no password, no passkey, no other identity), in one statement.
pub fn unlink(tx: &mut Tx<'_>, account_id: i64, id: i64) -> Result<Unlinked, Error> {
    let sql = concat!(
        "WITH target AS (
             SELECT id, provider FROM identities WHERE id = $2 AND account_id = $1
         ), others AS (
             SELECT ",
        another_way_to_sign_in!("identities"),
        " AS ok
         ), gone AS (
             DELETE FROM identities i USING target, others WHERE i.id = target.id AND others.ok
         )
         SELECT target.provider, others.ok FROM target, others"
    );
    let row = tx.query_opt(sql, &[&account_id, &id])?;
    Ok(match row {
        None => Unlinked::NotFound,
        Some(r) if r.get::<_, bool>(1) => Unlinked::Unlinked { provider: r.get(0) },
        Some(_) => Unlinked::LastSignInMethod,
    })
}
