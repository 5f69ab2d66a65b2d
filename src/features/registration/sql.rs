//! SQL of claims: rows of `accounts` with status `pending`, and their activation.

use crate::db::pool::{Connection, Queries, Tx};
use crate::domain::{AccountStatus, CodeOutcome, CodeSnapshot, Email, VerificationCode};
use crate::error::Error;
use crate::features::credentials::sql::StoredCredentials;

/// True when an active account or an unexpired claim holds `email` (a cheap pre-check that lets
/// `POST /register` answer 409 without spending a bcrypt hash; the insert below stays the authority).
pub fn is_taken(client: &mut Connection, email: &Email) -> Result<bool, Error> {
    let row = client.query_one(
        "SELECT EXISTS (SELECT 1 FROM accounts
                         WHERE email = $1 AND (status = 'active' OR code_expires_at > now()))",
        &[&email.as_str()],
    )?;
    Ok(row.get(0))
}

/// A new claim (seed truth #1), in one statement. An expired claim on the same email is replaced
/// atomically (seed truth #7, failure scenario 8): new password hash, new code, wrong attempts
/// and resends reset, the earlier claimant's events deleted (the claim is a new one).
///
/// Returns the claim's id, or `None` when an active account or an unexpired claim holds the email
/// (the `WHERE` of `DO UPDATE` is re-checked under the row lock, so concurrent registrations and a
/// concurrent activation are serialized by PostgreSQL).
pub fn insert_claim(
    tx: &mut Tx<'_>,
    email: &Email,
    password_hash: &str,
    code: &VerificationCode,
    salt: &[u8],
    ttl_seconds: u32,
) -> Result<Option<i64>, Error> {
    let row = tx.query_opt(
        "WITH claim AS (
         INSERT INTO accounts (email, password_hash, status, code_hash, code_salt, code_expires_at)
         VALUES ($1, $2, 'pending', sha256($4::bytea || $3::bytea), $4, now() + make_interval(secs => $5))
         ON CONFLICT (email) DO UPDATE
            SET password_hash = EXCLUDED.password_hash,
                code_hash = EXCLUDED.code_hash,
                code_salt = EXCLUDED.code_salt,
                code_expires_at = EXCLUDED.code_expires_at,
                wrong_attempts = 0,
                resends = 0,
                credential_version = accounts.credential_version + 1,
                created_at = now(),
                role = 'user', disabled_at = NULL, display_name = NULL
          WHERE accounts.status = 'pending' AND accounts.code_expires_at <= now()
         RETURNING id
         ), old_trail AS (
             DELETE FROM audit_events e USING accounts a
              WHERE e.account_id = a.id AND a.email = $1 AND a.status = 'pending'
                AND a.code_expires_at <= now()
         )
         SELECT id FROM claim",
        &[
            &email.as_str(),
            &password_hash,
            &code.expose().as_bytes(),
            &salt,
            &f64::from(ttl_seconds),
        ],
    )?;
    Ok(row.map(|r| r.get(0)))
}

/// Removes a claim whose verification mail could not be delivered (seed truth #10: no claim without
/// a delivered code). Matching the salt means a newer claim on the same email is never touched.
pub fn delete_undelivered_claim(
    client: &mut Connection,
    id: i64,
    salt: &[u8],
) -> Result<(), Error> {
    client.execute(
        "DELETE FROM accounts WHERE id = $1 AND status = 'pending' AND code_salt = $2",
        &[&id, &salt],
    )?;
    Ok(())
}

/// Locks the row read by [`crate::features::credentials::sql::find_credentials`] (`FOR UPDATE`) and evaluates `code` against it with
/// the database clock. `None` when the row is gone or was replaced meanwhile (its credential
/// version differs). Concurrent activations of one claim queue on this lock, so every code evaluation sees
/// the attempts recorded by the previous one (seed truth #8, failure scenario 12).
pub fn lock_claim(
    tx: &mut Tx<'_>,
    credentials: &StoredCredentials,
    code: &VerificationCode,
) -> Result<Option<(AccountStatus, CodeSnapshot)>, Error> {
    let row = tx.query_opt(
        "SELECT status,
                coalesce(code_expires_at <= now(), false),
                coalesce(code_hash = sha256(code_salt || $3::bytea), false),
                wrong_attempts
           FROM accounts
          WHERE id = $1 AND credential_version = $2
          FOR UPDATE",
        &[&credentials.id, &credentials.credential_version, &code.expose().as_bytes()],
    )?;
    row.map(|r| {
        let attempts: i32 = r.get(3);
        let snapshot = CodeSnapshot {
            expired: r.get(1),
            code_matches: r.get(2),
            wrong_attempts: u32::try_from(attempts).unwrap_or(0),
        };
        Ok((r.try_get(0)?, snapshot))
    })
    .transpose()
}

/// Applies a decided transition to the locked claim, inside the caller's transaction.
pub fn apply_outcome(tx: &mut Tx<'_>, id: i64, outcome: CodeOutcome) -> Result<(), Error> {
    let sql = match outcome {
        CodeOutcome::Accepted => {
            "UPDATE accounts
                SET status = 'active', activated_at = now(), wrong_attempts = 0,
                    code_hash = NULL, code_salt = NULL, code_expires_at = NULL
              WHERE id = $1"
        }
        CodeOutcome::WrongCode { .. } => {
            "UPDATE accounts SET wrong_attempts = wrong_attempts + 1 WHERE id = $1"
        }
        CodeOutcome::Exhausted | CodeOutcome::Expired => "DELETE FROM accounts WHERE id = $1",
    };
    tx.execute(sql, &[&id])?;
    Ok(())
}

/// A claim's code as it was before a resend, to put back if the new code cannot be mailed.
#[derive(Debug, Clone)]
pub struct PreviousCode {
    hash: Vec<u8>,
    salt: Vec<u8>,
    expires_at: String,
    resends: i32,
}

/// A pending claim locked for a resend.
#[derive(Debug, Clone)]
pub struct LockedForResend {
    /// `pending` or `active` (a concurrent activation may have won).
    pub status: AccountStatus,
    /// `now() >= code_expires_at` by the database clock.
    pub expired: bool,
    /// Resends already made for this claim.
    pub resends: u32,
    /// Whole seconds until the window ends (0 if expired or active).
    pub seconds_left: u32,
    /// The code to restore if mailing the new one fails.
    pub previous: PreviousCode,
}

/// Locks the claim read by [`crate::features::credentials::sql::find_credentials`] for a resend (`None` if gone or replaced).
pub fn lock_for_resend(
    tx: &mut Tx<'_>,
    credentials: &StoredCredentials,
) -> Result<Option<LockedForResend>, Error> {
    let row = tx.query_opt(
        "SELECT status, coalesce(code_expires_at <= now(), false), resends,
                coalesce(ceil(extract(epoch FROM code_expires_at - now())), 0)::int,
                coalesce(code_hash, ''), coalesce(code_salt, ''),
                coalesce(code_expires_at::text, ''), resends
           FROM accounts
          WHERE id = $1 AND credential_version = $2
          FOR UPDATE",
        &[&credentials.id, &credentials.credential_version],
    )?;
    row.map(|r| {
        Ok(LockedForResend {
            status: r.try_get(0)?,
            expired: r.get(1),
            resends: u32::try_from(r.get::<_, i32>(2)).unwrap_or(u32::MAX),
            seconds_left: u32::try_from(r.get::<_, i32>(3)).unwrap_or(0),
            previous: PreviousCode {
                hash: r.get(4),
                salt: r.get(5),
                expires_at: r.get(6),
                resends: r.get(7),
            },
        })
    })
    .transpose()
}

/// Gives the locked claim a new code and a new window, and counts the resend. Wrong attempts are
/// left as they are.
pub fn replace_code(
    tx: &mut Tx<'_>,
    id: i64,
    code: &VerificationCode,
    salt: &[u8],
    ttl_seconds: u32,
) -> Result<(), Error> {
    tx.execute(
        "UPDATE accounts
            SET code_hash = sha256($3::bytea || $2::bytea), code_salt = $3,
                code_expires_at = now() + make_interval(secs => $4), resends = resends + 1
          WHERE id = $1",
        &[&id, &code.expose().as_bytes(), &salt, &f64::from(ttl_seconds)],
    )?;
    Ok(())
}

/// Puts back the code a failed resend replaced, unless the claim changed again since (matched by
/// the new salt): the claim is left exactly as before the resend.
pub fn restore_code(
    client: &mut Connection,
    id: i64,
    new_salt: &[u8],
    previous: &PreviousCode,
) -> Result<(), Error> {
    client.execute(
        "UPDATE accounts
            SET code_hash = $3, code_salt = $4, code_expires_at = $5::text::timestamptz, resends = $6
          WHERE id = $1 AND status = 'pending' AND code_salt = $2",
        &[&id, &new_salt, &previous.hash, &previous.salt, &previous.expires_at, &previous.resends],
    )?;
    Ok(())
}

/// Deletes one claim (an expired claim found by `POST /resend`).
pub fn delete_claim(tx: &mut Tx<'_>, id: i64) -> Result<(), Error> {
    tx.execute("DELETE FROM accounts WHERE id = $1 AND status = 'pending'", &[&id])?;
    Ok(())
}

/// Deletes every expired claim, password hash and code hash included (seed truth #6). Returns how
/// many were deleted.
pub fn reap_expired_claims(client: &mut Connection) -> Result<u64, Error> {
    Ok(client.execute(
        "DELETE FROM accounts WHERE status = 'pending' AND code_expires_at <= now()",
        &[],
    )?)
}
