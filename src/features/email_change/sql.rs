//! SQL of the `email_changes` table (`POST /me/email`, `POST /me/email/confirm`).

use crate::db::pool::{Queries, Tx};
use crate::db::profile_from;
use crate::domain::{CodeSnapshot, Email, Profile, VerificationCode};
use crate::error::Error;

/// Stores a pending change of account `account_id` to `new_email`, in one statement. A newer
/// request replaces the older one (wrong attempts already made stay). Applies only while the
/// account still has credential `version`, the one whose password was just confirmed (read `FOR
/// KEY SHARE`: a concurrent deletion waits or leaves nothing); false otherwise.
pub fn request(
    tx: &mut Tx<'_>,
    account_id: i64,
    version: i32,
    new_email: &Email,
    code: &VerificationCode,
    salt: &[u8],
    ttl_seconds: u32,
) -> Result<bool, Error> {
    let stored = tx.execute(
        "INSERT INTO email_changes
                (account_id, credential_version, new_email, code_hash, code_salt, expires_at)
         SELECT id, credential_version, $3, sha256($5::bytea || $4::bytea), $5,
                now() + make_interval(secs => $6)
           FROM accounts WHERE id = $1 AND credential_version = $2 AND status = 'active'
            FOR KEY SHARE
         ON CONFLICT (account_id) DO UPDATE
            SET credential_version = EXCLUDED.credential_version,
                new_email = EXCLUDED.new_email, code_hash = EXCLUDED.code_hash,
                code_salt = EXCLUDED.code_salt, created_at = now(),
                expires_at = EXCLUDED.expires_at",
        &[
            &account_id,
            &version,
            &new_email.as_str(),
            &code.expose().as_bytes(),
            &salt,
            &f64::from(ttl_seconds),
        ],
    )?;
    Ok(stored == 1)
}

/// A pending change, locked, with `code` evaluated against it.
#[derive(Debug)]
pub struct LockedChange {
    /// The account changing its address.
    pub account_id: i64,
    /// Its address now.
    pub email: Email,
    /// The address it asked for.
    pub new_email: Email,
    /// Expiry, code match and wrong attempts so far, by the database.
    pub snapshot: CodeSnapshot,
}

/// Locks the pending change of account `account_id` (whose row the caller locked first) and
/// evaluates `code` with the database clock. `FOR UPDATE`: parallel guesses queue and each sees the
/// attempts recorded before it. A change asked for under an earlier password counts as expired.
/// `None`: no change is pending.
pub fn lock(
    tx: &mut Tx<'_>,
    account_id: i64,
    code: &VerificationCode,
) -> Result<Option<LockedChange>, Error> {
    let row = tx.query_opt(
        "SELECT a.id, a.email, c.new_email,
                c.expires_at <= now() OR c.credential_version <> a.credential_version,
                c.code_hash = sha256(c.code_salt || $2::bytea), c.wrong_attempts
           FROM accounts a JOIN email_changes c ON c.account_id = a.id
          WHERE a.id = $1
            FOR UPDATE OF c",
        &[&account_id, &code.expose().as_bytes()],
    )?;
    row.map(|r| {
        Ok(LockedChange {
            account_id: r.get(0),
            email: r.try_get(1)?,
            new_email: r.try_get(2)?,
            snapshot: CodeSnapshot {
                expired: r.get(3),
                code_matches: r.get(4),
                wrong_attempts: u32::try_from(r.get::<_, i32>(5)).unwrap_or(u32::MAX),
            },
        })
    })
    .transpose()
}

/// Counts one wrong code against the locked change.
pub fn record_wrong_attempt(tx: &mut Tx<'_>, account_id: i64) -> Result<(), Error> {
    tx.execute(
        "UPDATE email_changes SET wrong_attempts = wrong_attempts + 1 WHERE account_id = $1",
        &[&account_id],
    )?;
    Ok(())
}

/// Cancels the pending change of `account_id` (used up, expired, or its address taken).
pub fn cancel(client: &mut impl Queries, account_id: i64) -> Result<(), Error> {
    client.execute("DELETE FROM email_changes WHERE account_id = $1", &[&account_id])?;
    Ok(())
}

/// Moves the locked account to its new address and returns the new profile.
///
/// First an expired claim on the address is released (as a registration would replace it); then
/// the swap is one `UPDATE` of `accounts.email`, so the UNIQUE constraint decides any race with a
/// registration of the same address: exactly one of the two commits, never two rows with one
/// email. The same statement consumes the change and cancels a pending reset or sign-in code
/// (they went to the old address). Sessions are kept.
///
/// Errors: 409 [`Error::EmailTaken`] when the address is held (the transaction is then aborted:
/// the caller rolls back).
pub fn swap(tx: &mut Tx<'_>, account_id: i64, new_email: &Email) -> Result<Profile, Error> {
    let new_email = new_email.as_str();
    tx.execute(
        "DELETE FROM accounts WHERE email = $1 AND status = 'pending' AND code_expires_at <= now()",
        &[&new_email],
    )?;
    let swapped = tx.query_one(
        concat!(
            "WITH a AS (
                 UPDATE accounts SET email = $2 WHERE id = $1 RETURNING *
             ), change_gone AS (
                 DELETE FROM email_changes WHERE account_id = $1
             ), codes_gone AS (
                 DELETE FROM mailed_codes WHERE account_id = $1
             )
             SELECT ",
            profile_columns!(),
            " FROM a"
        ),
        &[&account_id, &new_email],
    );
    match swapped {
        Ok(row) => profile_from(&row),
        Err(e) if e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION) => {
            Err(Error::EmailTaken)
        }
        Err(e) => Err(e.into()),
    }
}
