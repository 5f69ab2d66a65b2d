//! SQL of the `email_changes` table (`POST /me/email`, `POST /me/email/confirm`).

use super::pool::{Connection, Queries, Tx};
use super::profile_from;
use crate::domain::{ClaimSnapshot, Email, Profile, VerificationCode};
use crate::error::Error;
use crate::mail::Message;

/// Stores a pending change of account `account_id` to `new_email` and queues `code_mail` (to the
/// new address, expiring with the code) and `notice` (to the current one), in one statement. A
/// newer request replaces the older one (wrong attempts already made stay). Applies only while
/// the account still has credential `version`, the one whose password was just confirmed (read
/// `FOR KEY SHARE`: a concurrent deletion waits or leaves nothing); false otherwise.
#[allow(clippy::too_many_arguments)] // one statement, one parameter per column it writes
pub fn request(
    client: &mut Connection,
    account_id: i64,
    version: i32,
    new_email: &Email,
    code: &VerificationCode,
    salt: &[u8],
    ttl_seconds: u32,
    code_mail: &Message,
    notice: &Message,
) -> Result<bool, Error> {
    let (ip, request_id) = super::audit::context();
    let row = client.query_one(
        "WITH change AS (
             INSERT INTO email_changes
                    (account_id, credential_version, new_email, code_hash, code_salt, expires_at)
             SELECT id, credential_version, $3, sha256($5::bytea || $4::bytea), $5,
                    now() + make_interval(secs => $6)
               FROM accounts WHERE id = $1 AND credential_version = $2 AND status = 'active'
                FOR KEY SHARE
             ON CONFLICT (account_id) DO UPDATE
                SET credential_version = EXCLUDED.credential_version,
                    new_email = EXCLUDED.new_email, code_hash = EXCLUDED.code_hash,
                    code_salt = EXCLUDED.code_salt, created_at = now(),
                    expires_at = EXCLUDED.expires_at
             RETURNING account_id, expires_at
         ), mail AS (
             INSERT INTO outbox (kind, recipient, subject, body, expires_at)
             SELECT m.kind, m.recipient, m.subject, m.body, m.expires_at
               FROM change,
                    LATERAL (VALUES ('email_change_code', $3, $7, $8, change.expires_at),
                                    ('email_change_requested', $9, $10, $11, NULL))
                            AS m (kind, recipient, subject, body, expires_at)
         ), event AS (
             INSERT INTO audit_events (account_id, actor_id, action, client_ip, request_id, details)
             SELECT account_id, account_id, 'email_change_requested', $12, $13,
                    jsonb_build_object('new_email', $3::text)
               FROM change
         )
         SELECT count(*) FROM change",
        &[
            &account_id,
            &version,
            &new_email.as_str(),
            &code.expose().as_bytes(),
            &salt,
            &f64::from(ttl_seconds),
            &code_mail.subject,
            &code_mail.text,
            &notice.to.as_str(),
            &notice.subject,
            &notice.text,
            &ip,
            &request_id,
        ],
    )?;
    Ok(row.get::<_, i64>(0) == 1)
}

/// A pending change, locked, with `code` evaluated against it.
#[derive(Debug)]
pub struct LockedChange {
    /// The account changing its address.
    pub account_id: i64,
    /// Its address now.
    pub email: String,
    /// The address it asked for.
    pub new_email: String,
    /// Expiry, code match and wrong attempts so far, by the database.
    pub snapshot: ClaimSnapshot,
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
    Ok(row.map(|r| LockedChange {
        account_id: r.get(0),
        email: r.get(1),
        new_email: r.get(2),
        snapshot: ClaimSnapshot {
            expired: r.get(3),
            code_matches: r.get(4),
            wrong_attempts: u32::try_from(r.get::<_, i32>(5)).unwrap_or(u32::MAX),
        },
    }))
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
/// email. The same statement consumes the change, cancels a pending password reset (its code went
/// to the old address) and queues `notice` to the old address. Sessions are kept.
///
/// Errors: 409 [`Error::EmailTaken`] when the address is held (the transaction is then aborted:
/// the caller rolls back).
pub fn swap(
    tx: &mut Tx<'_>,
    account_id: i64,
    new_email: &str,
    notice: &Message,
) -> Result<Profile, Error> {
    tx.execute(
        "DELETE FROM accounts WHERE email = $1 AND status = 'pending' AND code_expires_at <= now()",
        &[&new_email],
    )?;
    let (ip, request_id) = super::audit::context();
    let swapped = tx.query_one(
        concat!(
            "WITH old AS (
                 SELECT email FROM accounts WHERE id = $1
             ), a AS (
                 UPDATE accounts SET email = $2 WHERE id = $1 RETURNING *
             ), change_gone AS (
                 DELETE FROM email_changes WHERE account_id = $1
             ), codes_gone AS (
                 DELETE FROM mailed_codes WHERE account_id = $1
             ), notice AS (
                 INSERT INTO outbox (kind, recipient, subject, body)
                 SELECT 'email_changed', old.email, $3, $4 FROM old
             ), event AS (
                 INSERT INTO audit_events
                        (account_id, actor_id, action, client_ip, request_id, details)
                 SELECT $1, $1, 'email_changed', $5, $6,
                        jsonb_build_object('old_email', old.email, 'new_email', $2::text)
                   FROM old
             )
             SELECT ",
            profile_columns!(),
            " FROM a"
        ),
        &[&account_id, &new_email, &notice.subject, &notice.text, &ip, &request_id],
    );
    match swapped {
        Ok(row) => Ok(profile_from(&row)),
        Err(e) if e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION) => {
            Err(Error::EmailTaken)
        }
        Err(e) => Err(e.into()),
    }
}
