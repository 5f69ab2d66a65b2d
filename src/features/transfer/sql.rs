//! SQL of `beefirst import` and `beefirst export`: accounts made a batch at a time, and read a
//! page at a time from one snapshot.

use super::decide::NewAccount;
use crate::db::pool::{Queries, Tx};
use crate::domain::{DisplayName, ImportedHash};
use crate::error::Error;

/// Makes the active accounts of `batch` (numbered lines) in one statement; an email already present (an account
/// or a pending claim, or earlier in the batch) is skipped by `ON CONFLICT DO NOTHING`. An
/// account without a password gets `unusable` (a hash no password matches) and `password_set`
/// false. Returns the (id, email) of the accounts made.
pub fn insert_batch(
    tx: &mut Tx<'_>,
    batch: &[(u64, NewAccount)],
    unusable: &str,
) -> Result<Vec<(i64, String)>, Error> {
    let batch: Vec<&NewAccount> = batch.iter().map(|(_, account)| account).collect();
    let emails: Vec<&str> = batch.iter().map(|a| a.email.as_str()).collect();
    let hashes: Vec<&str> = batch
        .iter()
        .map(|a| a.password_hash.as_ref().map_or(unusable, ImportedHash::as_str))
        .collect();
    let with_password: Vec<bool> = batch.iter().map(|a| a.password_hash.is_some()).collect();
    let names: Vec<Option<&str>> =
        batch.iter().map(|a| a.display_name.as_ref().map(DisplayName::as_str)).collect();
    let roles: Vec<&str> = batch.iter().map(|a| a.role.as_str()).collect();
    let created: Vec<Option<&str>> = batch.iter().map(|a| a.created_at.as_deref()).collect();
    let disabled: Vec<bool> = batch.iter().map(|a| a.disabled).collect();
    let rows = tx.query(
        "INSERT INTO accounts (email, password_hash, password_set, status, display_name, role,
                               created_at, activated_at, disabled_at)
         SELECT email, hash, with_password, 'active', name, role,
                coalesce(created::timestamptz, now()), coalesce(created::timestamptz, now()),
                CASE WHEN disabled THEN now() END
           FROM unnest($1::text[], $2::text[], $3::bool[], $4::text[], $5::text[], $6::text[],
                       $7::bool[])
                WITH ORDINALITY AS i(email, hash, with_password, name, role, created, disabled, n)
          ORDER BY n
         ON CONFLICT (email) DO NOTHING
         RETURNING id, email",
        &[&emails, &hashes, &with_password, &names, &roles, &created, &disabled],
    )?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Makes the rest of the transaction one read-only snapshot (the export's pages agree).
pub fn snapshot(tx: &mut Tx<'_>) -> Result<(), Error> {
    tx.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", &[])?;
    Ok(())
}

/// One account as exported.
pub struct Exported {
    /// Row id (the cursor).
    pub id: i64,
    /// Normalized.
    pub email: String,
    /// `None` when the account has no password.
    pub password_hash: Option<String>,
    /// As set.
    pub display_name: Option<String>,
    /// `user` or `admin`.
    pub role: String,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// Disabled by an administrator.
    pub disabled: bool,
}

/// Up to `limit` active accounts after id `after`, by id.
pub fn page(tx: &mut Tx<'_>, after: i64, limit: i64) -> Result<Vec<Exported>, Error> {
    let rows = tx.query(
        concat!(
            "SELECT id, email, CASE WHEN password_set THEN password_hash END, display_name, role, ",
            rfc3339!("created_at"),
            ", disabled_at IS NOT NULL",
            " FROM accounts WHERE status = 'active' AND id > $1 ORDER BY id LIMIT $2"
        ),
        &[&after, &limit],
    )?;
    Ok(rows
        .iter()
        .map(|r| Exported {
            id: r.get(0),
            email: r.get(1),
            password_hash: r.get(2),
            display_name: r.get(3),
            role: r.get(4),
            created_at: r.get(5),
            disabled: r.get(6),
        })
        .collect())
}
