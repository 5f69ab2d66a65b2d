//! SQL of the second factor: `totp_factors` and `recovery_codes`.

use crate::db::pool::{Connection, Queries, Tx};
use crate::domain::Email;
use crate::error::Error;

/// What `POST /me/totp` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enrollment {
    /// A new unconfirmed secret is stored (replacing an unconfirmed one).
    Started,
    /// A confirmed factor exists: nothing changed.
    AlreadyEnabled,
    /// The account's password changed since it was checked: nothing changed.
    Stale,
}

/// Stores `sealed` as the account's unconfirmed TOTP secret, in one statement, unless a confirmed
/// factor exists or the account no longer has credential `version`.
pub fn start_enrollment(
    client: &mut Connection,
    account_id: i64,
    version: i32,
    sealed: &[u8],
) -> Result<Enrollment, Error> {
    let row = client.query_one(
        "WITH account AS (
             SELECT id FROM accounts WHERE id = $1 AND credential_version = $2 AND status = 'active'
                FOR KEY SHARE
         ), factor AS (
             INSERT INTO totp_factors (account_id, secret_sealed) SELECT id, $3 FROM account
             ON CONFLICT (account_id) DO UPDATE
                SET secret_sealed = EXCLUDED.secret_sealed, created_at = now(), last_used_step = NULL
              WHERE totp_factors.confirmed_at IS NULL
             RETURNING 1
         )
         SELECT (SELECT count(*) FROM account), (SELECT count(*) FROM factor)",
        &[&account_id, &version, &sealed],
    )?;
    Ok(match (row.get::<_, i64>(0), row.get::<_, i64>(1)) {
        (0, _) => Enrollment::Stale,
        (_, 0) => Enrollment::AlreadyEnabled,
        _ => Enrollment::Started,
    })
}

/// A TOTP factor locked for checking a code.
#[derive(Debug)]
pub struct LockedFactor {
    /// Owner.
    pub account_id: i64,
    /// The owner's address (for notices and the login-failure limit).
    pub email: Email,
    /// Credential version of the owner.
    pub credential_version: i32,
    /// The sealed secret.
    pub sealed: Vec<u8>,
    /// Confirmed (on) or only enrolled.
    pub confirmed: bool,
    /// Newest accepted step.
    pub last_used_step: Option<i64>,
    /// Wrong codes at the confirmation so far.
    pub wrong_attempts: u32,
    /// The database clock, seconds since the Unix epoch.
    pub now: i64,
}

/// A [`LockedFactor`] from a row of the columns [`lock_factor`] reads.
pub fn locked_factor(row: &postgres::Row) -> Result<LockedFactor, Error> {
    Ok(LockedFactor {
        account_id: row.get(0),
        email: row.try_get(1)?,
        credential_version: row.get(2),
        sealed: row.get(3),
        confirmed: row.get(4),
        last_used_step: row.get(5),
        now: row.get(6),
        wrong_attempts: u32::try_from(row.get::<_, i32>(7)).unwrap_or(u32::MAX),
    })
}

/// Locks the TOTP factor of account `account_id` (whose row the caller locked first). `None`: no
/// factor.
pub fn lock_factor(tx: &mut Tx<'_>, account_id: i64) -> Result<Option<LockedFactor>, Error> {
    let row = tx.query_opt(
        "SELECT a.id, a.email, a.credential_version, t.secret_sealed, t.confirmed_at IS NOT NULL,
                t.last_used_step, floor(extract(epoch FROM now()))::bigint, t.wrong_attempts
           FROM accounts a JOIN totp_factors t ON t.account_id = a.id
          WHERE a.id = $1
            FOR UPDATE OF t",
        &[&account_id],
    )?;
    row.as_ref().map(locked_factor).transpose()
}

/// Turns the locked factor on: confirmed now, `step` used, a fresh set of recovery codes stored as
/// the given tags (`SealingKey::tag`; earlier codes deleted), the account row marked
/// `mfa_enabled`, and every session of the account but `keep_session` deleted (contract v3: a
/// session made with the password alone never outlives the second factor). Returns how many
/// sessions were deleted.
///
/// The account row is updated, not only locked: a login whose session insert is waiting for that
/// row re-reads it once this commits, sees `mfa_enabled` and inserts nothing, however old its
/// snapshot (`sessions::create`).
pub fn confirm(
    tx: &mut Tx<'_>,
    account_id: i64,
    step: i64,
    code_tags: &[Vec<u8>],
    keep_session: i64,
) -> Result<u64, Error> {
    let row = tx.query_one(
        "WITH factor AS (
             UPDATE totp_factors SET confirmed_at = now(), last_used_step = $2, wrong_attempts = 0
              WHERE account_id = $1
         ), account AS (
             UPDATE accounts SET mfa_enabled = true WHERE id = $1
         ), old AS (
             DELETE FROM recovery_codes WHERE account_id = $1
         ), codes AS (
             INSERT INTO recovery_codes (account_id, code_hash)
             SELECT $1, tag FROM unnest($3::bytea[]) AS tag
         ), others AS (
             DELETE FROM sessions WHERE account_id = $1 AND id <> $4 RETURNING 1
         )
         SELECT count(*) FROM others",
        &[&account_id, &step, &code_tags, &keep_session],
    )?;
    Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
}

/// Counts a wrong code against the locked, unconfirmed factor; with `last`, deletes it instead
/// (the enrolment starts over, with the password).
pub fn fail_enrollment(tx: &mut Tx<'_>, account_id: i64, last: bool) -> Result<(), Error> {
    let sql = if last {
        "DELETE FROM totp_factors WHERE account_id = $1 AND confirmed_at IS NULL"
    } else {
        "UPDATE totp_factors SET wrong_attempts = wrong_attempts + 1 WHERE account_id = $1"
    };
    tx.execute(sql, &[&account_id])?;
    Ok(())
}

/// Records `step` as the newest accepted one (no replay of it or anything older).
pub fn accept_step(tx: &mut Tx<'_>, account_id: i64, step: i64) -> Result<(), Error> {
    tx.execute(
        "UPDATE totp_factors SET last_used_step = $2 WHERE account_id = $1",
        &[&account_id, &step],
    )?;
    Ok(())
}

/// Spends a recovery code, given as its tag: deleted if it is one of the account's, so it works
/// once even when two requests present it at the same moment (one `DELETE` wins). Returns the
/// codes left, or `None` if it was not one.
pub fn use_recovery_code(
    tx: &mut Tx<'_>,
    account_id: i64,
    code_tag: &[u8],
) -> Result<Option<i64>, Error> {
    let row = tx.query_opt(
        "DELETE FROM recovery_codes WHERE account_id = $1 AND code_hash = $2
         RETURNING (SELECT count(*) - 1 FROM recovery_codes WHERE account_id = $1)",
        &[&account_id, &code_tag],
    )?;
    Ok(row.map(|r| r.get(0)))
}

/// Turns the factor off: the secret, the recovery codes and pending login challenges go, and the
/// account row is no longer marked `mfa_enabled`.
pub fn disable(tx: &mut Tx<'_>, account_id: i64) -> Result<(), Error> {
    tx.execute(
        "WITH codes AS (
             DELETE FROM recovery_codes WHERE account_id = $1
         ), challenges AS (
             DELETE FROM mfa_challenges WHERE account_id = $1
         ), account AS (
             UPDATE accounts SET mfa_enabled = false WHERE id = $1
         )
         DELETE FROM totp_factors WHERE account_id = $1",
        &[&account_id],
    )?;
    Ok(())
}
