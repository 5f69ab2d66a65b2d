//! SQL of the `sessions` and `refresh_tokens` tables: login sessions and their refresh tokens.
//!
//! A refresh token is never stored: statements hash it with PostgreSQL's `sha256()`. A session
//! counts only while `expires_at > now()` (database clock) and its `credential_version` equals its
//! account's (a password change makes every session created under the old password dead at once,
//! even one inserted by a login racing the change); the access token naming it must not have
//! expired either (`live_session!` in `store`, checked against the database clock too).

use super::pool::{Connection, Queries, Tx};
use super::profile_from;
use crate::domain::{Profile, RefreshToken, SessionRef};
use crate::error::Error;

/// The account behind a live session, for operations that re-check the password.
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

/// What an access token is made from: the session and its account as they are now.
#[derive(Debug, Clone)]
pub struct Issued {
    /// `sessions.id`.
    pub session_id: i64,
    /// `accounts.id`.
    pub account_id: i64,
    /// Normalized email.
    pub email: String,
    /// `user` or `admin`.
    pub role: String,
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
/// and, for a password-only session, has no second factor on (else `None`: something changed
/// since the check, e.g. TOTP was confirmed while the password was being verified).
///
/// The account row is read `FOR KEY SHARE`: a concurrent `DELETE /me` either waits for this
/// insert (and then deletes the new session with the account) or has already removed the row (no
/// insert, and no foreign-key violation).
pub fn create(
    client: &mut impl Queries,
    account_id: i64,
    credential_version: i32,
    amr: &[&str],
    user_agent: Option<&str>,
    refresh: &RefreshToken,
    ttl_seconds: u32,
) -> Result<Option<Issued>, Error> {
    let amr: Vec<String> = amr.iter().map(|m| (*m).to_owned()).collect();
    let (ip, request_id) = super::audit::context();
    let row = client.query_opt(
        "WITH account AS (
             SELECT id, email, role, credential_version FROM accounts
              WHERE id = $1 AND credential_version = $2 AND status = 'active'
                AND disabled_at IS NULL
                AND ('otp' = ANY ($3::text[]) OR NOT mfa_enabled)
                FOR KEY SHARE
         ), session AS (
             INSERT INTO sessions (account_id, credential_version, amr, user_agent, expires_at)
             SELECT id, credential_version, $3, $4, now() + make_interval(secs => $6) FROM account
             RETURNING id
         ), token AS (
             INSERT INTO refresh_tokens (token_hash, session_id)
             SELECT sha256($5::bytea), id FROM session
         ), event AS (
             INSERT INTO audit_events (account_id, actor_id, action, client_ip, request_id, details)
             SELECT account.id, account.id, 'login_succeeded', $7, $8,
                    jsonb_build_object('session_id', session.id, 'amr', $3::text[])
               FROM account, session
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
            &ip,
            &request_id,
        ],
    )?;
    Ok(row.map(|r| Issued {
        session_id: r.get(0),
        account_id,
        email: r.get(1),
        role: r.get(2),
        amr,
        now: r.get(3),
    }))
}

/// Locks the account of a live session (`FOR UPDATE`: strong enough for a change of its email) and
/// returns its id; the first step of the transactions that change a signed-in account's rows, so
/// they queue on the account rather than deadlock on the rows that hang off it.
pub fn lock_account(tx: &mut Tx<'_>, session: &SessionRef) -> Result<Option<i64>, Error> {
    let sql = concat!(
        "SELECT a.id FROM sessions s, accounts a WHERE ",
        live_session!(),
        " FOR UPDATE OF a"
    );
    Ok(tx.query_opt(sql, &super::live_params(session))?.map(|r| r.get(0)))
}

/// The profile of a live session's account.
pub fn profile(client: &mut Connection, session: &SessionRef) -> Result<Option<Profile>, Error> {
    let sql = concat!(
        "SELECT ",
        profile_columns!(),
        " FROM sessions s, accounts a WHERE ",
        live_session!()
    );
    let row = client.query_opt(sql, &super::live_params(session))?;
    Ok(row.as_ref().map(profile_from))
}

/// The account behind a live session, with its password hash.
pub fn account_of(
    client: &mut Connection,
    session: &SessionRef,
) -> Result<Option<SessionAccount>, Error> {
    let sql = concat!(
        "SELECT a.id, a.email, a.password_hash, a.credential_version FROM sessions s, accounts a
          WHERE ",
        live_session!()
    );
    let row = client.query_opt(sql, &super::live_params(session))?;
    Ok(row.map(|r| SessionAccount {
        account_id: r.get(0),
        email: r.get(1),
        password_hash: r.get(2),
        credential_version: r.get(3),
    }))
}

/// Revokes sessions of the live session's account: `which` = `Some(id)` that one session (it
/// must belong to the account), `None` every session but the caller's own; `Some(session.id)`
/// is a logout. Returns (caller live, sessions deleted). The account is read `FOR KEY SHARE`
/// before any session is deleted (the `caller` CTE feeds the deletion), so a revocation waits for
/// a flow that holds the account and deletes sessions itself (turning TOTP on) instead of
/// deadlocking with it.
pub fn revoke(
    client: &mut Connection,
    session: &SessionRef,
    which: Option<i64>,
    action: &str,
) -> Result<(bool, u64), Error> {
    let sql = concat!(
        "WITH caller AS (SELECT s.account_id FROM sessions s, accounts a WHERE ",
        live_session!(),
        " FOR KEY SHARE OF a), gone AS (
             DELETE FROM sessions o USING caller
              WHERE o.account_id = caller.account_id
                AND CASE WHEN $4::bigint IS NULL THEN o.id <> $1 ELSE o.id = $4 END
             RETURNING o.id
         ), event AS (
             INSERT INTO audit_events (account_id, actor_id, action, client_ip, request_id, details)
             SELECT caller.account_id, caller.account_id, $5, $6, $7,
                    jsonb_build_object('session_ids', (SELECT jsonb_agg(id) FROM gone))
               FROM caller WHERE EXISTS (SELECT 1 FROM gone)
         )
         SELECT (SELECT count(*) FROM caller), (SELECT count(*) FROM gone)"
    );
    let [id, account, expires] = super::live_params(session);
    let (ip, request_id) = super::audit::context();
    let params: [&(dyn postgres::types::ToSql + Sync); 7] =
        [id, account, expires, &which, &action, &ip, &request_id];
    let row = client.query_one(sql, &params)?;
    Ok((row.get::<_, i64>(0) == 1, u64::try_from(row.get::<_, i64>(1)).unwrap_or(0)))
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
    let rows = client.query(sql, &super::live_params(session))?;
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

/// What presenting a refresh token did.
#[derive(Debug)]
pub enum Refreshed {
    /// It was current and its session live: spent now, `next` stored; a new access token is due.
    Rotated(Issued),
    /// Unknown, or its session is gone or no longer live.
    Invalid,
    /// Spent at most `REFRESH_REUSE_GRACE_SECONDS` ago (two tabs racing): refused, session kept.
    SpentRecently,
    /// Spent longer ago: someone replays it. Its session (of `account_id`) was revoked.
    Reused {
        /// The revoked session.
        session_id: i64,
        /// Its account.
        account_id: i64,
    },
}

/// Spends `presented` and stores `next` for the same session, in the caller's transaction; a
/// token spent before is told apart by how long ago (`grace_seconds`), and replaying it revokes
/// the session. Its account is locked first (`FOR KEY SHARE`, evaluated while the session is
/// scanned, before the session's own lock), then the session row: the order every flow that
/// deletes sessions takes (the account, the session, its tokens by cascade), so a refresh racing
/// a logout, a deletion or the confirmation of a second factor waits instead of deadlocking; two
/// refreshes with one token queue on it and exactly one rotates.
/// The caller commits only [`Refreshed::Rotated`] and [`Refreshed::Reused`].
pub fn refresh(
    tx: &mut Tx<'_>,
    presented: &RefreshToken,
    next: &RefreshToken,
    grace_seconds: u32,
) -> Result<Refreshed, Error> {
    let presented = presented.expose().as_bytes();
    let locked = tx.query_opt(
        "SELECT s.id FROM sessions s
          WHERE s.id = (SELECT session_id FROM refresh_tokens WHERE token_hash = sha256($1::bytea))
            AND EXISTS (SELECT 1 FROM accounts a WHERE a.id = s.account_id FOR KEY SHARE)
            FOR UPDATE OF s",
        &[&presented],
    )?;
    let Some(locked) = locked else {
        return Ok(Refreshed::Invalid); // unknown token, or its session is gone
    };
    let session_id: i64 = locked.get(0);
    let spent = tx.execute(
        "UPDATE refresh_tokens SET spent_at = now()
          WHERE token_hash = sha256($1::bytea) AND spent_at IS NULL",
        &[&presented],
    )?;
    if spent == 0 {
        return spent_before(tx, presented, session_id, grace_seconds);
    }
    let row = tx.query_opt(
        "UPDATE sessions s SET last_used_at = now() FROM accounts a
          WHERE s.id = $1 AND a.id = s.account_id AND s.expires_at > now()
            AND s.credential_version = a.credential_version AND a.status = 'active'
            AND a.disabled_at IS NULL
         RETURNING a.id, a.email, a.role, s.amr, floor(extract(epoch FROM now()))::bigint",
        &[&session_id],
    )?;
    let Some(row) = row else {
        return Ok(Refreshed::Invalid); // expired, or ended by a password change
    };
    tx.execute(
        "INSERT INTO refresh_tokens (token_hash, session_id) VALUES (sha256($1::bytea), $2)",
        &[&next.expose().as_bytes(), &session_id],
    )?;
    Ok(Refreshed::Rotated(Issued {
        session_id,
        account_id: row.get(0),
        email: row.get(1),
        role: row.get(2),
        amr: row.get(3),
        now: row.get(4),
    }))
}

/// A presented token of the locked session `session_id` that was spent already: recently (two
/// tabs racing), or long enough ago to be a replay: then the session is deleted.
fn spent_before(
    tx: &mut Tx<'_>,
    presented: &[u8],
    session_id: i64,
    grace: u32,
) -> Result<Refreshed, Error> {
    let recent: bool = tx
        .query_one(
            "SELECT spent_at > now() - make_interval(secs => $2)
               FROM refresh_tokens WHERE token_hash = sha256($1::bytea)",
            &[&presented, &f64::from(grace)],
        )?
        .get(0);
    if recent {
        return Ok(Refreshed::SpentRecently);
    }
    let revoked =
        tx.query_one("DELETE FROM sessions WHERE id = $1 RETURNING account_id", &[&session_id])?;
    let account_id: i64 = revoked.get(0);
    let details = serde_json::json!({ "session_id": session_id });
    super::audit::record(tx, Some(account_id), None, "refresh_token_reused", Some(&details))?;
    Ok(Refreshed::Reused { session_id, account_id })
}

/// Deletes expired sessions, their refresh tokens with them (reaper, by the `sessions_expiry`
/// index). A session of an old credential version already counts for nothing and goes when it
/// expires. Returns how many.
pub fn reap_expired(client: &mut Connection) -> Result<u64, Error> {
    Ok(client.execute("DELETE FROM sessions WHERE expires_at <= now()", &[])?)
}
