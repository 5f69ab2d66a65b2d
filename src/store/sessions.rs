//! SQL of the `sessions` table: creating, looking up and revoking login sessions.
//!
//! A token is never stored: every statement hashes it with PostgreSQL's `sha256()` and matches
//! `token_hash`. A session counts only while `expires_at > now()` (database clock) and its
//! `credential_version` equals its account's (a password change makes every session created under
//! the old password dead at once, even one inserted by a login racing the change).

use super::pool::{Connection, Queries};
use super::profile_from;
use crate::domain::{Profile, SessionToken};
use crate::error::Error;

/// The account behind a valid session, for operations that re-check the password.
#[derive(Debug, Clone)]
pub struct SessionAccount {
    /// `accounts.id`.
    pub account_id: i64,
    /// Normalized email.
    pub email: String,
    /// bcrypt hash.
    pub password_hash: String,
    /// The credential version the password was read with: a change or deletion confirmed with
    /// this password applies only while it is still current.
    pub credential_version: i32,
}

/// Stores a new session for the active account `account_id`, expiring `ttl_seconds` from now,
/// if the account still has the `credential_version` whose password was just checked. False (no
/// session) when the account was deleted, or its password changed, since the check.
///
/// The account row is read `FOR KEY SHARE`: a concurrent `DELETE /me` either waits for this
/// insert (and then deletes the new session with the account) or has already removed the row (no
/// insert, and no foreign-key violation).
pub fn create(
    client: &mut Connection,
    account_id: i64,
    credential_version: i32,
    token: &SessionToken,
    ttl_seconds: u32,
) -> Result<bool, Error> {
    let inserted = client.execute(
        "INSERT INTO sessions (token_hash, account_id, credential_version, expires_at)
         SELECT sha256($1::bytea), id, credential_version, now() + make_interval(secs => $3)
           FROM accounts
          WHERE id = $2 AND credential_version = $4 AND status = 'active'
            FOR KEY SHARE",
        &[&token.expose().as_bytes(), &account_id, &f64::from(ttl_seconds), &credential_version],
    )?;
    Ok(inserted == 1)
}

/// The profile of the session's account; `None` for an unknown, expired or revoked token.
pub fn profile(client: &mut Connection, token: &SessionToken) -> Result<Option<Profile>, Error> {
    let sql = concat!(
        "SELECT ",
        profile_columns!(),
        " FROM sessions s JOIN accounts a ON a.id = s.account_id
          WHERE s.token_hash = sha256($1::bytea) AND s.expires_at > now()
            AND s.credential_version = a.credential_version"
    );
    Ok(client.query_opt(sql, &[&token.expose().as_bytes()])?.as_ref().map(profile_from))
}

/// The account behind a valid session, with its password hash.
pub fn account_of(
    client: &mut Connection,
    token: &SessionToken,
) -> Result<Option<SessionAccount>, Error> {
    let row = client.query_opt(
        "SELECT a.id, a.email, a.password_hash, a.credential_version
           FROM sessions s JOIN accounts a ON a.id = s.account_id
          WHERE s.token_hash = sha256($1::bytea) AND s.expires_at > now()
            AND s.credential_version = a.credential_version",
        &[&token.expose().as_bytes()],
    )?;
    Ok(row.map(|r| SessionAccount {
        account_id: r.get(0),
        email: r.get(1),
        password_hash: r.get(2),
        credential_version: r.get(3),
    }))
}

/// Revokes one session (`POST /logout`). False if it was not a valid session.
pub fn revoke(client: &mut Connection, token: &SessionToken) -> Result<bool, Error> {
    let deleted = client.execute(
        "DELETE FROM sessions s USING accounts a
          WHERE s.token_hash = sha256($1::bytea) AND s.expires_at > now()
            AND a.id = s.account_id AND s.credential_version = a.credential_version",
        &[&token.expose().as_bytes()],
    )?;
    Ok(deleted > 0)
}

/// Deletes expired sessions (reaper, by the `sessions_expiry` index). Returns how many. A session
/// of an old credential version (a login that raced a password change) already counts for nothing
/// and goes when it expires.
pub fn reap_expired(client: &mut Connection) -> Result<u64, Error> {
    Ok(client.execute("DELETE FROM sessions WHERE expires_at <= now()", &[])?)
}
