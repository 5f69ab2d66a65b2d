//! SQL of `mfa_challenges`: the step between a right first factor (password or mailed code) and
//! the second factor of a sign-in.

use crate::db::pool::{Connection, Queries, Tx};
use crate::domain::MfaToken;
use crate::error::Error;
use crate::features::totp::sql::{LockedFactor, locked_factor};

/// A challenge to store: whose, made under which credential version, after which first step.
#[derive(Debug, Clone, Copy)]
pub struct NewChallenge<'a> {
    /// The account whose first step was passed.
    pub account_id: i64,
    /// Its credential version at that moment.
    pub credential_version: i32,
    /// `pwd` or `email` (the `amr` of the first step).
    pub first_factor: &'a str,
}

/// Stores the challenge of a sign-in whose first step was passed, for `ttl_seconds`, if the
/// account still has that credential version (read `FOR KEY SHARE`, as a session insert does);
/// false if not.
pub fn create_challenge(
    tx: &mut Tx<'_>,
    challenge: &NewChallenge<'_>,
    token: &MfaToken,
    user_agent: Option<&str>,
    ttl_seconds: u32,
) -> Result<bool, Error> {
    let inserted = tx.execute(
        "INSERT INTO mfa_challenges
                (token_hash, account_id, credential_version, user_agent, expires_at, first_factor)
         SELECT sha256($1::bytea), id, credential_version, $4, now() + make_interval(secs => $5), $6
           FROM accounts WHERE id = $2 AND credential_version = $3 AND status = 'active'
            FOR KEY SHARE",
        &[
            &token.expose().as_bytes(),
            &challenge.account_id,
            &challenge.credential_version,
            &user_agent,
            &f64::from(ttl_seconds),
            &challenge.first_factor,
        ],
    )?;
    Ok(inserted == 1)
}

/// Locks the account a challenge belongs to (`FOR NO KEY UPDATE`), before the challenge and the
/// factor themselves: every transaction that changes an account's rows locks the account first.
pub fn lock_challenge_account(tx: &mut Tx<'_>, token: &MfaToken) -> Result<bool, Error> {
    let row = tx.query_opt(
        "SELECT a.id FROM mfa_challenges c JOIN accounts a ON a.id = c.account_id
          WHERE c.token_hash = sha256($1::bytea)
            FOR NO KEY UPDATE OF a",
        &[&token.expose().as_bytes()],
    )?;
    Ok(row.is_some())
}

/// A live challenge, locked with its account's factor.
#[derive(Debug)]
pub struct Challenge {
    /// The factor (locked too, so two logins cannot accept one code).
    pub factor: LockedFactor,
    /// Wrong codes so far.
    pub wrong_attempts: u32,
    /// As sent at the first step.
    pub user_agent: Option<String>,
    /// `pwd` or `email`: how the first step was passed.
    pub first_factor: String,
}

/// Locks the challenge of `token` and its account's factor (`FOR UPDATE`), if the challenge is
/// unexpired (database clock), the account keeps the credential version it was made for, and the
/// factor is on.
pub fn lock_challenge(tx: &mut Tx<'_>, token: &MfaToken) -> Result<Option<Challenge>, Error> {
    let row = tx.query_opt(
        "SELECT a.id, a.email, a.credential_version, t.secret_sealed, true, t.last_used_step,
                floor(extract(epoch FROM now()))::bigint, t.wrong_attempts, c.wrong_attempts, c.user_agent,
                c.first_factor
           FROM mfa_challenges c
           JOIN accounts a ON a.id = c.account_id AND a.credential_version = c.credential_version
                          AND a.disabled_at IS NULL
           JOIN totp_factors t ON t.account_id = c.account_id AND t.confirmed_at IS NOT NULL
          WHERE c.token_hash = sha256($1::bytea) AND c.expires_at > now()
            FOR UPDATE OF c, t",
        &[&token.expose().as_bytes()],
    )?;
    row.map(|r| {
        Ok(Challenge {
            factor: locked_factor(&r)?,
            wrong_attempts: u32::try_from(r.get::<_, i32>(8)).unwrap_or(u32::MAX),
            user_agent: r.get(9),
            first_factor: r.get(10),
        })
    })
    .transpose()
}

/// Counts a wrong code against the locked challenge, or deletes it when that was its last.
pub fn fail_challenge(tx: &mut Tx<'_>, token: &MfaToken, last: bool) -> Result<(), Error> {
    let sql = if last {
        "DELETE FROM mfa_challenges WHERE token_hash = sha256($1::bytea)"
    } else {
        "UPDATE mfa_challenges SET wrong_attempts = wrong_attempts + 1
          WHERE token_hash = sha256($1::bytea)"
    };
    tx.execute(sql, &[&token.expose().as_bytes()])?;
    Ok(())
}

/// Deletes a used challenge.
pub fn delete_challenge(tx: &mut Tx<'_>, token: &MfaToken) -> Result<(), Error> {
    fail_challenge(tx, token, true)
}

/// Deletes expired challenges (reaper). Returns how many.
pub fn reap_expired(client: &mut Connection) -> Result<u64, Error> {
    Ok(client.execute("DELETE FROM mfa_challenges WHERE expires_at <= now()", &[])?)
}
