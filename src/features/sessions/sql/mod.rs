//! SQL of the `sessions` and `refresh_tokens` tables: login sessions and their refresh tokens.
//!
//! A refresh token is never stored: statements hash it with PostgreSQL's `sha256()`. A session
//! counts only while `expires_at > now()` (database clock) and its `credential_version` equals its
//! account's (a password change makes every session created under the old password dead at once,
//! even one inserted by a login racing the change); the access token naming it must not have
//! expired either (`live_session!` in `db`, checked against the database clock too).

pub mod challenges;
pub mod keys;

use crate::db::pool::{Connection, Queries, Tx};
use crate::domain::{Email, RefreshToken, Role, SessionRef};
use crate::error::Error;

/// What an access token is made from: the session and its account as they are now.
#[derive(Debug, Clone)]
pub struct Issued {
    /// `sessions.id`.
    pub session_id: i64,
    /// `accounts.id`.
    pub account_id: i64,
    /// Its address.
    pub email: Email,
    /// Its role.
    pub role: Role,
    /// `{pwd}` or `{pwd,otp}`.
    pub amr: Vec<String>,
    /// The database clock, seconds since the Unix epoch.
    pub now: i64,
}

/// One of an account's sessions, for `GET /me/sessions` (times RFC 3339 UTC).
#[derive(Debug, Clone)]
pub struct SessionInfo {
    /// `sessions.id`.
    pub id: i64,
    /// Login time.
    pub created_at: String,
    /// Login or latest refresh.
    pub last_used_at: String,
    /// Absolute end.
    pub expires_at: String,
    /// As sent at login.
    pub user_agent: Option<String>,
}

/// Creates a session and its first refresh token for the active account `account_id`, if the
/// account still has the `credential_version` whose password was just checked, is not disabled,
/// and, for a session without `otp` or `hwk` (a passkey with user verification, itself a second
/// factor), has no second factor on (else `None`: something changed
/// since the check, e.g. TOTP was confirmed while the password was being verified).
///
/// The account row is read `FOR KEY SHARE`: a concurrent `DELETE /me` either waits for this
/// insert (and then deletes the new session with the account) or has already removed the row (no
/// insert, and no foreign-key violation).
pub fn create(
    tx: &mut Tx<'_>,
    account_id: i64,
    credential_version: i32,
    amr: &[&str],
    user_agent: Option<&str>,
    refresh: &RefreshToken,
    ttl_seconds: u32,
) -> Result<Option<Issued>, Error> {
    let amr: Vec<String> = amr.iter().map(|m| (*m).to_owned()).collect();
    let row = tx.query_opt(
        "WITH account AS (
             SELECT id, email, role, credential_version FROM accounts
              WHERE id = $1 AND credential_version = $2 AND status = 'active'
                AND disabled_at IS NULL
                AND ('otp' = ANY ($3::text[]) OR 'hwk' = ANY ($3::text[]) OR NOT mfa_enabled)
                FOR KEY SHARE
         ), session AS (
             INSERT INTO sessions (account_id, credential_version, amr, user_agent, expires_at)
             SELECT id, credential_version, $3, $4, now() + make_interval(secs => $6) FROM account
             RETURNING id
         ), token AS (
             INSERT INTO refresh_tokens (token_hash, session_id)
             SELECT sha256($5::bytea), id FROM session
         )
         SELECT session.id, account.email, account.role,
                floor(extract(epoch FROM now()))::bigint
           FROM session, account",
        &[
            &account_id,
            &credential_version,
            &amr,
            &user_agent,
            &refresh.expose().as_bytes(),
            &f64::from(ttl_seconds),
        ],
    )?;
    row.map(|r| {
        Ok(Issued {
            session_id: r.get(0),
            account_id,
            email: r.try_get(1)?,
            role: r.try_get(2)?,
            amr,
            now: r.get(3),
        })
    })
    .transpose()
}

/// What a revocation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revoked {
    /// The caller's account, `None` when the caller's session was not live.
    pub account_id: Option<i64>,
    /// The sessions deleted.
    pub sessions: Vec<i64>,
}

/// Revokes sessions of the live session's account: `which` = `Some(id)` that one session (it
/// must belong to the account), `None` every session but the caller's own; `Some(session.id)`
/// is a logout. The account is read `FOR KEY SHARE` before any session is deleted (the `caller`
/// CTE feeds the deletion), so a revocation waits for a flow that holds the account and deletes
/// sessions itself (turning TOTP on) instead of deadlocking with it.
pub fn revoke(tx: &mut Tx<'_>, session: &SessionRef, which: Option<i64>) -> Result<Revoked, Error> {
    let sql = concat!(
        "WITH caller AS (SELECT s.account_id FROM sessions s, accounts a WHERE ",
        live_session!(),
        " FOR KEY SHARE OF a), gone AS (
             DELETE FROM sessions o USING caller
              WHERE o.account_id = caller.account_id
                AND CASE WHEN $4::bigint IS NULL THEN o.id <> $1 ELSE o.id = $4 END
             RETURNING o.id
         )
         SELECT (SELECT account_id FROM caller),
                coalesce((SELECT array_agg(id ORDER BY id) FROM gone), '{}')"
    );
    let [id, account, expires] = crate::db::live_params(session);
    let params: [&(dyn postgres::types::ToSql + Sync); 4] = [id, account, expires, &which];
    let row = tx.query_one(sql, &params)?;
    Ok(Revoked { account_id: row.get(0), sessions: row.get(1) })
}

/// The live sessions of a live session's account, oldest first; empty when the caller's own
/// session is not live (it is always in the list otherwise).
pub fn list(client: &mut Connection, session: &SessionRef) -> Result<Vec<SessionInfo>, Error> {
    let sql = concat!(
        "WITH caller AS (SELECT s.account_id, a.credential_version FROM sessions s, accounts a WHERE ",
        live_session!(),
        ")
         SELECT o.id, ",
        rfc3339!("o.created_at"),
        ", ",
        rfc3339!("o.last_used_at"),
        ", ",
        rfc3339!("o.expires_at"),
        ", o.user_agent
           FROM sessions o JOIN caller ON o.account_id = caller.account_id
                AND o.credential_version = caller.credential_version
          WHERE o.expires_at > now()
          ORDER BY o.created_at, o.id"
    );
    let rows = client.query(sql, &crate::db::live_params(session))?;
    Ok(rows
        .iter()
        .map(|r| SessionInfo {
            id: r.get(0),
            created_at: r.get(1),
            last_used_at: r.get(2),
            expires_at: r.get(3),
            user_agent: r.get(4),
        })
        .collect())
}

/// A presented refresh token, its session locked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PresentedToken {
    /// Its session (locked `FOR UPDATE`).
    pub session_id: i64,
    /// The session's account.
    pub account_id: i64,
    /// Seconds since it was spent (database clock); `None`: not spent yet.
    pub spent_seconds_ago: Option<f64>,
}

/// Locks the session of `presented` and reads how long ago the token was spent; `None` for an
/// unknown token or a session that is gone. The account is locked first (`FOR KEY SHARE`,
/// evaluated while the session is scanned, before the session's own lock), then the session row:
/// the order every flow that deletes sessions takes (the account, the session, its tokens by
/// cascade), so a refresh racing a logout, a deletion or the confirmation of a second factor
/// waits instead of deadlocking; two refreshes with one token queue on the session. The token is
/// read in a statement of its own, after the lock: a refresh that waited sees the spending of the
/// one before it.
pub fn lock_presented(
    tx: &mut Tx<'_>,
    presented: &RefreshToken,
) -> Result<Option<PresentedToken>, Error> {
    let presented = presented.expose().as_bytes();
    let locked = tx.query_opt(
        "SELECT s.id, s.account_id FROM sessions s
          WHERE s.id = (SELECT session_id FROM refresh_tokens WHERE token_hash = sha256($1::bytea))
            AND EXISTS (SELECT 1 FROM accounts a WHERE a.id = s.account_id FOR KEY SHARE)
            FOR UPDATE OF s",
        &[&presented],
    )?;
    let Some(locked) = locked else { return Ok(None) };
    let spent = tx.query_one(
        "SELECT extract(epoch FROM now() - spent_at)::float8
           FROM refresh_tokens WHERE token_hash = sha256($1::bytea)",
        &[&presented],
    )?;
    Ok(Some(PresentedToken {
        session_id: locked.get(0),
        account_id: locked.get(1),
        spent_seconds_ago: spent.get(0),
    }))
}

/// Rotates the locked session's `presented` token in one statement: spent now, `next` stored,
/// the session's last use moved, if the session is still live (unexpired, its account's
/// credential version, active and enabled). `None` otherwise: the caller rolls back.
pub fn rotate(
    tx: &mut Tx<'_>,
    presented: &RefreshToken,
    next: &RefreshToken,
) -> Result<Option<Issued>, Error> {
    let row = tx.query_opt(
        "WITH spent AS (
             UPDATE refresh_tokens SET spent_at = now()
              WHERE token_hash = sha256($1::bytea) AND spent_at IS NULL
             RETURNING session_id
         ), live AS (
             UPDATE sessions s SET last_used_at = now() FROM accounts a, spent
              WHERE s.id = spent.session_id AND a.id = s.account_id AND s.expires_at > now()
                AND s.credential_version = a.credential_version AND a.status = 'active'
                AND a.disabled_at IS NULL
             RETURNING s.id, a.id AS account_id, a.email, a.role, s.amr
         ), stored AS (
             INSERT INTO refresh_tokens (token_hash, session_id)
             SELECT sha256($2::bytea), id FROM live
         )
         SELECT id, account_id, email, role, amr, floor(extract(epoch FROM now()))::bigint
           FROM live",
        &[&presented.expose().as_bytes(), &next.expose().as_bytes()],
    )?;
    row.map(|r| {
        Ok(Issued {
            session_id: r.get(0),
            account_id: r.get(1),
            email: r.try_get(2)?,
            role: r.try_get(3)?,
            amr: r.get(4),
            now: r.get(5),
        })
    })
    .transpose()
}

/// Deletes the locked session `session_id` (a replayed refresh token), its tokens with it.
pub fn delete_session(tx: &mut Tx<'_>, session_id: i64) -> Result<(), Error> {
    tx.execute("DELETE FROM sessions WHERE id = $1", &[&session_id])?;
    Ok(())
}

/// Deletes expired sessions, their refresh tokens with them (reaper, by the `sessions_expiry`
/// index). A session of an old credential version already counts for nothing and goes when it
/// expires. Returns how many.
pub fn reap_expired(client: &mut Connection) -> Result<u64, Error> {
    Ok(client.execute("DELETE FROM sessions WHERE expires_at <= now()", &[])?)
}
