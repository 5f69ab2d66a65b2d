//! SQL of the `accounts` table: claims (status `pending`) and activated accounts.

use super::pool::{Connection, Queries, Tx};
use super::profile_from;
use crate::domain::{
    ActivationOutcome, ClaimSnapshot, Email, Profile, SessionRef, VerificationCode,
};
use crate::error::Error;

/// Account or claim status as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// A claim waiting for its code.
    Pending,
    /// An activated account.
    Active,
}

impl Status {
    fn from_db(value: &str) -> Result<Status, Error> {
        match value {
            "pending" => Ok(Status::Pending),
            "active" => Ok(Status::Active),
            other => Err(Error::Internal(format!("unknown status {other:?}"))),
        }
    }
}

/// What a password is checked against.
#[derive(Debug, Clone)]
pub struct StoredCredentials {
    /// Row id.
    pub id: i64,
    /// bcrypt hash.
    pub password_hash: String,
    /// `pending` or `active`.
    pub status: Status,
    /// A pending claim whose window has passed (database clock); false for accounts.
    pub claim_expired: bool,
    /// `credential_version`: changes with every new password or replaced claim, so later
    /// statements can tell that the row is still the one whose password was checked.
    pub credential_version: i32,
    /// A confirmed TOTP factor: a login needs a code after the password.
    pub second_factor: bool,
    /// Disabled by an administrator: the right password gets 403.
    pub disabled: bool,
}

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
/// atomically (seed truth #7, failure scenario 8): new password hash, new code, wrong attempts and resends reset (the claim is a new one).
///
/// Returns the claim's id, or `None` when an active account or an unexpired claim holds the email
/// (the `WHERE` of `DO UPDATE` is re-checked under the row lock, so concurrent registrations and a
/// concurrent activation are serialized by PostgreSQL).
pub fn insert_claim(
    client: &mut Connection,
    email: &Email,
    password_hash: &str,
    code: &VerificationCode,
    salt: &[u8],
    ttl_seconds: u32,
) -> Result<Option<i64>, Error> {
    let (ip, request_id) = super::audit::context();
    let row = client.query_opt(
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
         ), event AS (
             INSERT INTO audit_events (account_id, actor_id, action, client_ip, request_id)
             SELECT id, id, 'registered', $6, $7 FROM claim
         )
         SELECT id FROM claim",
        &[
            &email.as_str(),
            &password_hash,
            &code.expose().as_bytes(),
            &salt,
            &f64::from(ttl_seconds),
            &ip,
            &request_id,
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

/// The password hash and status for `email`, expired claims included (so that a wrong password
/// on an expired claim still answers 401, not 410: no oracle).
pub fn find_credentials(
    client: &mut Connection,
    email: &Email,
) -> Result<Option<StoredCredentials>, Error> {
    let row = client.query_opt(
        "SELECT id, password_hash, status, coalesce(code_expires_at <= now(), false),
                credential_version, mfa_enabled, disabled_at IS NOT NULL
           FROM accounts WHERE email = $1",
        &[&email.as_str()],
    )?;
    row.map(|r| {
        Ok(StoredCredentials {
            id: r.get(0),
            password_hash: r.get(1),
            status: Status::from_db(r.get(2))?,
            claim_expired: r.get(3),
            credential_version: r.get(4),
            second_factor: r.get(5),
            disabled: r.get(6),
        })
    })
    .transpose()
}

/// Locks the row read by [`find_credentials`] (`FOR UPDATE`) and evaluates `code` against it with
/// the database clock. `None` when the row is gone or was replaced meanwhile (its credential
/// version differs). Concurrent activations of one claim queue on this lock, so every code evaluation sees
/// the attempts recorded by the previous one (seed truth #8, failure scenario 12).
pub fn lock_claim(
    tx: &mut Tx<'_>,
    credentials: &StoredCredentials,
    code: &VerificationCode,
) -> Result<Option<(Status, ClaimSnapshot)>, Error> {
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
        let snapshot = ClaimSnapshot {
            expired: r.get(1),
            code_matches: r.get(2),
            wrong_attempts: u32::try_from(attempts).unwrap_or(0),
        };
        Ok((Status::from_db(r.get(0))?, snapshot))
    })
    .transpose()
}

/// Applies a decided transition to the locked claim, inside the caller's transaction.
pub fn apply_outcome(tx: &mut Tx<'_>, id: i64, outcome: ActivationOutcome) -> Result<(), Error> {
    let sql = match outcome {
        ActivationOutcome::Activate => {
            "UPDATE accounts
                SET status = 'active', activated_at = now(), wrong_attempts = 0,
                    code_hash = NULL, code_salt = NULL, code_expires_at = NULL
              WHERE id = $1"
        }
        ActivationOutcome::WrongCode { .. } => {
            "UPDATE accounts SET wrong_attempts = wrong_attempts + 1 WHERE id = $1"
        }
        ActivationOutcome::Exhausted | ActivationOutcome::Expired => {
            "DELETE FROM accounts WHERE id = $1"
        }
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
    pub status: Status,
    /// `now() >= code_expires_at` by the database clock.
    pub expired: bool,
    /// Resends already made for this claim.
    pub resends: u32,
    /// Whole seconds until the window ends (0 if expired or active).
    pub seconds_left: u32,
    /// The code to restore if mailing the new one fails.
    pub previous: PreviousCode,
}

/// Locks the claim read by [`find_credentials`] for a resend (`None` if gone or replaced).
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
            status: Status::from_db(r.get(0))?,
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

/// Replaces a password hash that verified but is stale (another bcrypt cost, or made from the
/// un-normalized password) with `new_hash` of the same password. The credential version stays:
/// sessions live on. Nothing happens if the hash changed meanwhile.
pub fn upgrade_hash(
    client: &mut Connection,
    id: i64,
    old_hash: &str,
    new_hash: &str,
) -> Result<(), Error> {
    client.execute(
        "UPDATE accounts SET password_hash = $3 WHERE id = $1 AND password_hash = $2",
        &[&id, &old_hash, &new_hash],
    )?;
    Ok(())
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

/// Sets (or with `None` clears) the display name of a live session's account, in one statement.
pub fn update_display_name(
    client: &mut Connection,
    session: &SessionRef,
    display_name: Option<&str>,
) -> Result<Option<Profile>, Error> {
    let sql = concat!(
        "UPDATE accounts a SET display_name = $4 FROM sessions s WHERE ",
        live_session!(),
        " RETURNING ",
        profile_columns!()
    );
    let [id, account, expires] = super::live_params(session);
    let params: [&(dyn postgres::types::ToSql + Sync); 4] = [id, account, expires, &display_name];
    Ok(client.query_opt(sql, &params)?.as_ref().map(profile_from))
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
    client: &mut Connection,
    account_id: i64,
    version: i32,
    new_hash: &str,
    keep_session: i64,
) -> Result<bool, Error> {
    let (ip, request_id) = super::audit::context();
    let changed = client.query_one(
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
         ), event AS (
             INSERT INTO audit_events (account_id, actor_id, action, client_ip, request_id)
             SELECT id, id, 'password_changed', $5, $6 FROM changed
         )
         SELECT count(*) FROM changed",
        &[&account_id, &new_hash, &keep_session, &version, &ip, &request_id],
    )?;
    Ok(changed.get::<_, i64>(0) == 1)
}

/// Deletes the account, if it still has credential `version` (the one whose password was
/// confirmed); its sessions and its audit events go with it (`ON DELETE CASCADE`). No soft
/// delete. One event stays, `account_deleted`, with the account's id and nothing else about it
/// (and `actor`, the administrator, when one deleted it). False if nothing was deleted.
pub fn delete_account(
    client: &mut impl Queries,
    account_id: i64,
    version: Option<i32>,
    actor: Option<i64>,
) -> Result<bool, Error> {
    let (ip, request_id) = super::audit::context();
    let deleted = client.query_one(
        "WITH gone AS (
             DELETE FROM accounts WHERE id = $1 AND ($2::int IS NULL OR credential_version = $2)
             RETURNING id
         ), event AS (
             INSERT INTO audit_events (actor_id, action, client_ip, request_id, details)
             SELECT $3, 'account_deleted',
                    CASE WHEN $3::bigint IS NULL THEN NULL ELSE $4 END,
                    CASE WHEN $3::bigint IS NULL THEN NULL ELSE $5 END,
                    jsonb_build_object('account_id', id)
               FROM gone
         )
         SELECT count(*) FROM gone",
        &[&account_id, &version, &actor, &ip, &request_id],
    )?;
    Ok(deleted.get::<_, i64>(0) > 0)
}
