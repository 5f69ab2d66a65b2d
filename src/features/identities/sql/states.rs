//! SQL of the two short-lived secrets of a provider sign-in: `idp_states` (from the authorize
//! redirect to the callback) and `login_codes` (from the callback to `POST /idp/exchange`). Both
//! are stored under the SHA-256 of what the browser holds, taken by one `DELETE … RETURNING`.

use crate::db::pool::{Connection, Queries, Tx};
use crate::domain::OpaqueToken;
use crate::error::Error;

/// How long a sign-in may stay at the provider, seconds (contract: 10 minutes).
pub const STATE_TTL_SECONDS: u32 = 600;
/// How long a login code lives, seconds (contract: 60 s).
pub const LOGIN_CODE_TTL_SECONDS: u32 = 60;

/// A sign-in sent to a provider.
#[derive(Debug, Clone)]
pub struct SentState<'a> {
    /// The provider's name.
    pub provider: &'a str,
    /// What the ID token's `nonce` must be.
    pub nonce: &'a str,
    /// The PKCE code verifier.
    pub verifier: &'a str,
    /// Where the browser returns.
    pub redirect_to: &'a str,
    /// For a link: the account that asked.
    pub link_account_id: Option<i64>,
}

/// Stores `sent` under `state`; a link only while its account exists (read `FOR KEY SHARE`).
/// False: that account is gone.
pub fn insert_state(
    client: &mut Connection,
    state: &OpaqueToken,
    sent: &SentState<'_>,
) -> Result<bool, Error> {
    let stored = client.execute(
        "INSERT INTO idp_states
                (state_hash, provider, nonce, code_verifier, redirect_to, link_account_id, expires_at)
         SELECT sha256($1::bytea), $2, $3, $4, $5, $6, now() + make_interval(secs => $7)
          WHERE $6::bigint IS NULL OR EXISTS (SELECT 1 FROM accounts WHERE id = $6 FOR KEY SHARE)",
        &[
            &state.expose().as_bytes(),
            &sent.provider,
            &sent.nonce,
            &sent.verifier,
            &sent.redirect_to,
            &sent.link_account_id,
            &f64::from(STATE_TTL_SECONDS),
        ],
    )?;
    Ok(stored == 1)
}

/// A sign-in back from its provider.
#[derive(Debug, Clone)]
pub struct TakenState {
    /// What the ID token's `nonce` must be.
    pub nonce: String,
    /// The PKCE code verifier.
    pub verifier: String,
    /// Where the browser returns.
    pub redirect_to: String,
    /// For a link: the account that asked.
    pub link_account_id: Option<i64>,
}

/// Deletes the state `state` of `provider` and returns it unless it expired; `None` for an
/// unknown, used, expired or another provider's state.
pub fn take_state(
    client: &mut Connection,
    state: &OpaqueToken,
    provider: &str,
) -> Result<Option<TakenState>, Error> {
    let row = client.query_opt(
        "DELETE FROM idp_states WHERE state_hash = sha256($1::bytea) AND provider = $2
         RETURNING nonce, code_verifier, redirect_to, link_account_id, expires_at > now()",
        &[&state.expose().as_bytes(), &provider],
    )?;
    Ok(row.filter(|r| r.get::<_, bool>(4)).map(|r| TakenState {
        nonce: r.get(0),
        verifier: r.get(1),
        redirect_to: r.get(2),
        link_account_id: r.get(3),
    }))
}

/// Stores a login code for the account `account_id` at `credential_version`.
pub fn insert_login_code(
    tx: &mut Tx<'_>,
    code: &OpaqueToken,
    account_id: i64,
    credential_version: i32,
) -> Result<(), Error> {
    tx.execute(
        "INSERT INTO login_codes (code_hash, account_id, credential_version, expires_at)
         VALUES (sha256($1::bytea), $2, $3, now() + make_interval(secs => $4))",
        &[
            &code.expose().as_bytes(),
            &account_id,
            &credential_version,
            &f64::from(LOGIN_CODE_TTL_SECONDS),
        ],
    )?;
    Ok(())
}

/// The account a login code signs in to, with its state now, locked `FOR NO KEY UPDATE`; the code
/// is deleted whatever it was. `None`: unknown, used, expired, or made for another credential
/// version.
#[derive(Debug, Clone, Copy)]
pub struct CodeAccount {
    /// `accounts.id`.
    pub account_id: i64,
    /// Its credential version.
    pub credential_version: i32,
    /// A second factor is on: the code is only the first step.
    pub mfa_enabled: bool,
    /// Disabled by an administrator since the callback.
    pub disabled: bool,
}

/// Takes the login code `code` (see [`CodeAccount`]).
pub fn take_login_code(tx: &mut Tx<'_>, code: &OpaqueToken) -> Result<Option<CodeAccount>, Error> {
    let row = tx.query_opt(
        "WITH taken AS (
             DELETE FROM login_codes WHERE code_hash = sha256($1::bytea)
             RETURNING account_id, credential_version, expires_at > now() AS live
         )
         SELECT a.id, a.credential_version, a.mfa_enabled, a.disabled_at IS NOT NULL
           FROM taken JOIN accounts a ON a.id = taken.account_id
          WHERE taken.live AND a.credential_version = taken.credential_version
            AND a.status = 'active'
            FOR NO KEY UPDATE OF a",
        &[&code.expose().as_bytes()],
    )?;
    Ok(row.map(|r| CodeAccount {
        account_id: r.get(0),
        credential_version: r.get(1),
        mfa_enabled: r.get(2),
        disabled: r.get(3),
    }))
}

/// Deletes expired states and login codes (the reaper); returns how many.
pub fn reap_expired(client: &mut Connection) -> Result<u64, Error> {
    let row = client.query_one(
        "WITH states AS (DELETE FROM idp_states WHERE expires_at <= now() RETURNING 1),
              codes AS (DELETE FROM login_codes WHERE expires_at <= now() RETURNING 1)
         SELECT (SELECT count(*) FROM states) + (SELECT count(*) FROM codes)",
        &[],
    )?;
    Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
}
