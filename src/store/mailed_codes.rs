//! SQL of the `mailed_codes` and `code_requests` tables: codes mailed to an account's own address
//! to reset its password (`POST /password/forgot`, `POST /password/reset`) or to sign in
//! (`POST /login/code`, `POST /login/code/verify`).

use super::pool::{Connection, Queries, Tx};
use crate::domain::{ClaimSnapshot, CodePurpose, Email, VerificationCode};
use crate::error::Error;
use crate::mail::Message;

/// Records a request for a `purpose` code to `email`, whatever it is: one insert, the only work
/// the request does in the database besides its rate limit, so the answer's timing cannot tell an
/// active account from anything else. The background worker turns it into a code
/// ([`claim_requests`], [`start`]).
pub fn queue_request(
    client: &mut Connection,
    purpose: CodePurpose,
    email: &Email,
) -> Result<(), Error> {
    let (ip, request_id) = super::audit::context();
    client.execute(
        "INSERT INTO code_requests (purpose, email, client_ip, request_id) VALUES ($1, $2, $3, $4)",
        &[&purpose.as_str(), &email.as_str(), &ip, &request_id],
    )?;
    Ok(())
}

/// A queued request for a mailed code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeRequest {
    /// What the code is for.
    pub purpose: CodePurpose,
    /// Normalized email as typed.
    pub email: String,
    /// Of the request, for the audit trail.
    pub client_ip: Option<String>,
    /// Of the request, for the audit trail.
    pub request_id: Option<String>,
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
            .ok_or_else(|| Error::Internal("unknown code purpose".into()))?;
        let request =
            CodeRequest { purpose, email: r.get(2), client_ip: r.get(3), request_id: r.get(4) };
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

/// Stores a code for the request's email and purpose and queues its mail, in one statement, if
/// and only if the email is an active, enabled account; returns whether it did. A newer request
/// replaces the older code; the wrong attempts already made stay (NIST SP 800-63B: a new secret does not reset the failure
/// count). The code is stored as `sha256(salt || code)` with the address it is mailed to; the
/// mail (code inside) waits in the outbox. The account is read `FOR KEY SHARE`, so a concurrent
/// deletion either waits or leaves nothing to insert for (never a foreign-key error).
pub fn start(
    tx: &mut Tx<'_>,
    request: &CodeRequest,
    code: &VerificationCode,
    salt: &[u8],
    ttl_seconds: u32,
    mail: &Message,
) -> Result<bool, Error> {
    let row = tx.query_one(
        "WITH target AS (
             SELECT id, credential_version FROM accounts
              WHERE email = $1 AND status = 'active' AND disabled_at IS NULL
                FOR KEY SHARE
         ), reset AS (
             INSERT INTO mailed_codes (account_id, purpose, email, code_hash, code_salt,
                                       credential_version, expires_at)
             SELECT id, $9::text, $1, sha256($3::bytea || $2::bytea), $3, credential_version,
                    now() + make_interval(secs => $4)
               FROM target
             ON CONFLICT (account_id, purpose) DO UPDATE
                SET email = EXCLUDED.email, code_hash = EXCLUDED.code_hash,
                    code_salt = EXCLUDED.code_salt,
                    credential_version = EXCLUDED.credential_version,
                    created_at = now(), expires_at = EXCLUDED.expires_at
             RETURNING account_id
         ), mail AS (
             INSERT INTO outbox (kind, recipient, subject, body, expires_at)
             SELECT $9::text || '_code', $1, $5, $6, now() + make_interval(secs => $4)
               FROM reset
         ), event AS (
             INSERT INTO audit_events (account_id, action, client_ip, request_id)
             SELECT account_id, $10::text, $7, $8 FROM reset
         )
         SELECT count(*) FROM reset",
        &[
            &request.email,
            &code.expose().as_bytes(),
            &salt,
            &f64::from(ttl_seconds),
            &mail.subject,
            &mail.text,
            &request.client_ip,
            &request.request_id,
            &request.purpose.as_str(),
            &match request.purpose {
                CodePurpose::PasswordReset => "password_reset_requested",
                CodePurpose::SignIn => "sign_in_code_requested",
            },
        ],
    )?;
    Ok(row.get::<_, i64>(0) == 1)
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
) -> Result<Option<ClaimSnapshot>, Error> {
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
    Ok(row.map(|r| ClaimSnapshot {
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
/// and any sign-in code consumed, any pending change of email cancelled, and `notice` queued to
/// the account's address.
pub fn complete(
    tx: &mut Tx<'_>,
    account_id: i64,
    new_hash: &str,
    notice: &Message,
) -> Result<(), Error> {
    let (ip, request_id) = super::audit::context();
    tx.query_one(
        "WITH changed AS (
             UPDATE accounts SET password_hash = $2, credential_version = credential_version + 1
              WHERE id = $1 AND status = 'active'
             RETURNING id, email
         ), sessions_gone AS (
             DELETE FROM sessions WHERE account_id = $1
         ), codes_gone AS (
             DELETE FROM mailed_codes WHERE account_id = $1
         ), change_gone AS (
             DELETE FROM email_changes WHERE account_id = $1
         ), notice AS (
             INSERT INTO outbox (kind, recipient, subject, body)
             SELECT 'password_reset', email, $3, $4 FROM changed
         ), event AS (
             INSERT INTO audit_events (account_id, action, client_ip, request_id)
             SELECT id, 'password_reset', $5, $6 FROM changed
         )
         SELECT count(*) FROM changed",
        &[&account_id, &new_hash, &notice.subject, &notice.text, &ip, &request_id],
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
