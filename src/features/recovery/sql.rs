//! SQL of the `mailed_codes` and `code_requests` tables: codes mailed to an account's own address
//! to reset its password (`POST /password/forgot`, `POST /password/reset`) or to sign in
//! (`POST /login/code`, `POST /login/code/verify`).

use crate::context::Context;
use crate::db::pool::{Connection, Queries, Tx};
use crate::domain::{CodePurpose, CodeSnapshot, Email, VerificationCode};
use crate::error::Error;

/// Records a request for a `purpose` code to `email`, whatever it is: one insert, the only work
/// the request does in the database besides its rate limit, so the answer's timing cannot tell an
/// active account from anything else. The background worker turns it into a code
/// ([`claim_requests`], [`start`]).
pub fn queue_request(
    client: &mut Connection,
    context: &Context,
    purpose: CodePurpose,
    email: &Email,
) -> Result<(), Error> {
    client.execute(
        "INSERT INTO code_requests (purpose, email, client_ip, request_id) VALUES ($1, $2, $3, $4)",
        &[&purpose.as_str(), &email.as_str(), &context.client_ip, &context.request_id],
    )?;
    Ok(())
}

/// A queued request for a mailed code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeRequest {
    /// What the code is for.
    pub purpose: CodePurpose,
    /// The address as asked for (normalized).
    pub email: Email,
    /// The request's, for the audit trail.
    pub context: Context,
}

/// Takes (deletes) up to `limit` queued requests, oldest first, inside the caller's transaction;
/// `SKIP LOCKED` lets the workers of several instances share them. Returns their emails.
pub fn claim_requests(tx: &mut Tx<'_>, limit: i64) -> Result<Vec<CodeRequest>, Error> {
    let rows = tx.query(
        "DELETE FROM code_requests
          WHERE id IN (SELECT id FROM code_requests ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
         RETURNING id, purpose, email, client_ip, request_id",
        &[&limit],
    )?;
    let mut requests: Vec<(i64, CodeRequest)> = Vec::with_capacity(rows.len());
    for r in &rows {
        let purpose = CodePurpose::from_name(r.get(1))
            .ok_or_else(|| Error::internal("unknown code purpose"))?;
        let context = Context { client_ip: r.get(3), request_id: r.get(4) };
        let request = CodeRequest { purpose, email: r.try_get(2)?, context };
        requests.push((r.get(0), request));
    }
    requests.sort_unstable_by_key(|(id, _)| *id);
    // One code per email, purpose and pass: a second request in the same batch would only
    // replace the first code before anyone could use it, and mail twice.
    let mut unique: Vec<CodeRequest> = Vec::with_capacity(requests.len());
    for (_, request) in requests {
        if !unique.iter().any(|r| r.email == request.email && r.purpose == request.purpose) {
            unique.push(request);
        }
    }
    Ok(unique)
}

/// Stores a code for the request's email and purpose, in one statement, if and only if the email
/// is an active, enabled account; returns that account's id. A newer request replaces the older
/// code; the wrong attempts already made stay (NIST SP 800-63B: a new secret does not reset the
/// failure count). The code is stored as `sha256(salt || code)` with the address it is mailed to.
/// The account is read `FOR KEY SHARE`, so a concurrent deletion either waits or leaves nothing
/// to insert for (never a foreign-key error).
pub fn start(
    tx: &mut Tx<'_>,
    request: &CodeRequest,
    code: &VerificationCode,
    salt: &[u8],
    ttl_seconds: u32,
) -> Result<Option<i64>, Error> {
    let row = tx.query_opt(
        "INSERT INTO mailed_codes (account_id, purpose, email, code_hash, code_salt,
                                   credential_version, expires_at)
         SELECT id, $5, $1, sha256($3::bytea || $2::bytea), $3, credential_version,
                now() + make_interval(secs => $4)
           FROM accounts
          WHERE email = $1 AND status = 'active' AND disabled_at IS NULL
            FOR KEY SHARE
         ON CONFLICT (account_id, purpose) DO UPDATE
            SET email = EXCLUDED.email, code_hash = EXCLUDED.code_hash,
                code_salt = EXCLUDED.code_salt,
                credential_version = EXCLUDED.credential_version,
                created_at = now(), expires_at = EXCLUDED.expires_at
         RETURNING account_id",
        &[
            &request.email.as_str(),
            &code.expose().as_bytes(),
            &salt,
            &f64::from(ttl_seconds),
            &request.purpose.as_str(),
        ],
    )?;
    Ok(row.map(|r| r.get(0)))
}

/// Locks the `purpose` code of account `account_id` (whose row the caller has locked first, as
/// every flow that changes an account's rows does, so they never deadlock) and evaluates `code`
/// with the database clock. `FOR UPDATE`: parallel guesses queue and each sees the attempts
/// recorded before it. A code counts as expired once the account has another password
/// (credential version) or another address than the one the code was mailed to. `None`: no code.
pub fn lock(
    tx: &mut Tx<'_>,
    account_id: i64,
    purpose: CodePurpose,
    code: &VerificationCode,
) -> Result<Option<CodeSnapshot>, Error> {
    let row = tx.query_opt(
        "SELECT r.expires_at <= now() OR r.credential_version <> a.credential_version
                    OR r.email <> a.email,
                r.code_hash = sha256(r.code_salt || $2::bytea),
                r.wrong_attempts
           FROM accounts a JOIN mailed_codes r ON r.account_id = a.id AND r.purpose = $3
          WHERE a.id = $1
            FOR UPDATE OF r",
        &[&account_id, &code.expose().as_bytes(), &purpose.as_str()],
    )?;
    Ok(row.map(|r| CodeSnapshot {
        expired: r.get(0),
        code_matches: r.get(1),
        wrong_attempts: u32::try_from(r.get::<_, i32>(2)).unwrap_or(u32::MAX),
    }))
}

/// Counts one wrong code against the locked `purpose` code.
pub fn record_wrong_attempt(
    tx: &mut Tx<'_>,
    account_id: i64,
    purpose: CodePurpose,
) -> Result<(), Error> {
    tx.execute(
        "UPDATE mailed_codes SET wrong_attempts = wrong_attempts + 1
          WHERE account_id = $1 AND purpose = $2",
        &[&account_id, &purpose.as_str()],
    )?;
    Ok(())
}

/// Deletes the locked `purpose` code (used, expired, or its last wrong attempt).
pub fn delete(tx: &mut Tx<'_>, account_id: i64, purpose: CodePurpose) -> Result<(), Error> {
    tx.execute(
        "DELETE FROM mailed_codes WHERE account_id = $1 AND purpose = $2",
        &[&account_id, &purpose.as_str()],
    )?;
    Ok(())
}

/// Completes a reset whose code matched, in one statement: the new password hash and a new
/// credential version, every session deleted (tokens signed before die at once), the reset code
/// and any sign-in code consumed, any pending change of email cancelled.
pub fn complete(tx: &mut Tx<'_>, account_id: i64, new_hash: &str) -> Result<(), Error> {
    tx.execute(
        "WITH changed AS (
             UPDATE accounts SET password_hash = $2, credential_version = credential_version + 1,
                                 password_set = true
              WHERE id = $1 AND status = 'active'
             RETURNING id
         ), sessions_gone AS (
             DELETE FROM sessions WHERE account_id = $1
         ), codes_gone AS (
             DELETE FROM mailed_codes WHERE account_id = $1
         )
         DELETE FROM email_changes WHERE account_id = $1",
        &[&account_id, &new_hash],
    )?;
    Ok(())
}

/// Deletes expired mailed codes and expired pending changes of email (reaper). Returns how many.
pub fn reap_expired(client: &mut Connection) -> Result<u64, Error> {
    let row = client.query_one(
        "WITH resets AS (DELETE FROM mailed_codes WHERE expires_at <= now() RETURNING 1),
              changes AS (DELETE FROM email_changes WHERE expires_at <= now() RETURNING 1)
         SELECT (SELECT count(*) FROM resets) + (SELECT count(*) FROM changes)",
        &[],
    )?;
    Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
}

/// Locks the active account of `email` (`FOR NO KEY UPDATE`) and returns its id: the first step
/// of every transaction that changes an account together with rows that hang off it, so two such
/// transactions queue on the account instead of locking those rows in opposite orders.
pub fn lock_active(tx: &mut Tx<'_>, email: &Email) -> Result<Option<i64>, Error> {
    let row = tx.query_opt(
        "SELECT id FROM accounts
          WHERE email = $1 AND status = 'active' AND disabled_at IS NULL
            FOR NO KEY UPDATE",
        &[&email.as_str()],
    )?;
    Ok(row.map(|r| r.get(0)))
}
