//! SQL of the two short-lived secrets of a provider round trip: `idp_states` (from the authorize
//! redirect to the callback) and `login_codes` (from the callback to `POST /idp/exchange` or
//! `POST /me/identities/confirm`). Both are stored under the SHA-256 of what the browser holds,
//! taken by one `DELETE … RETURNING`.

use crate::db::pool::{Connection, Queries, Tx};
use crate::domain::OpaqueToken;
use crate::error::Error;

/// How long a sign-in may stay at the provider, seconds (contract: 10 minutes).
pub const STATE_TTL_SECONDS: u32 = 600;
/// How long a login or link code lives, seconds (contract: 60 s).
pub const LOGIN_CODE_TTL_SECONDS: u32 = 60;

/// The account and session that asked for a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Linker {
    /// `accounts.id`.
    pub account_id: i64,
    /// `sessions.id`: only this session can confirm the link.
    pub session_id: i64,
}

/// A sign-in sent to a provider.
#[derive(Debug, Clone)]
pub struct SentState<'a> {
    /// The provider's name.
    pub provider: &'a str,
    /// What the ID token's `nonce` must be.
    pub nonce: &'a str,
    /// The PKCE code verifier (ours, for the provider).
    pub verifier: &'a str,
    /// Where the browser returns.
    pub redirect_to: &'a str,
    /// The frontend's PKCE challenge, if it gave one.
    pub client_challenge: Option<&'a str>,
    /// For a link: who asked.
    pub linker: Option<Linker>,
}

/// Stores `sent` under `state`; a link only while its account exists (read `FOR KEY SHARE`).
/// False: that account is gone.
pub fn insert_state(
    client: &mut Connection,
    state: &OpaqueToken,
    sent: &SentState<'_>,
) -> Result<bool, Error> {
    let (account, session) = (sent.linker.map(|l| l.account_id), sent.linker.map(|l| l.session_id));
    let stored = client.execute(
        "INSERT INTO idp_states (state_hash, provider, nonce, code_verifier, redirect_to,
                                 client_challenge, link_account_id, link_session_id, expires_at)
         SELECT sha256($1::bytea), $2, $3, $4, $5, $6, $7, $8, now() + make_interval(secs => $9)
          WHERE $7::bigint IS NULL OR EXISTS (SELECT 1 FROM accounts WHERE id = $7 FOR KEY SHARE)",
        &[
            &state.expose().as_bytes(),
            &sent.provider,
            &sent.nonce,
            &sent.verifier,
            &sent.redirect_to,
            &sent.client_challenge,
            &account,
            &session,
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
    /// The frontend's PKCE challenge, if it gave one.
    pub client_challenge: Option<String>,
    /// For a link: who asked.
    pub linker: Option<Linker>,
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
         RETURNING nonce, code_verifier, redirect_to, client_challenge, link_account_id,
                   link_session_id, expires_at > now()",
        &[&state.expose().as_bytes(), &provider],
    )?;
    Ok(row.filter(|r| r.get::<_, bool>(6)).map(|r| {
        let (account, session): (Option<i64>, Option<i64>) = (r.get(4), r.get(5));
        TakenState {
            nonce: r.get(0),
            verifier: r.get(1),
            redirect_to: r.get(2),
            client_challenge: r.get(3),
            linker: account
                .zip(session)
                .map(|(account_id, session_id)| Linker { account_id, session_id }),
        }
    }))
}

/// What a login or link code stands for.
#[derive(Debug, Clone)]
pub struct CodeFor<'a> {
    /// The account it signs in to, or that asked for the link.
    pub account_id: i64,
    /// That account's credential version now.
    pub credential_version: i32,
    /// The frontend's PKCE challenge, if it gave one.
    pub client_challenge: Option<&'a str>,
    /// For a link: the session that must confirm it, and the identity.
    pub link: Option<(i64, &'a str, &'a str, Option<&'a str>)>,
}

/// Stores a login code (`link` `None`) or a link code.
pub fn insert_code(tx: &mut Tx<'_>, code: &OpaqueToken, what: &CodeFor<'_>) -> Result<(), Error> {
    let purpose = if what.link.is_some() { "link" } else { "sign_in" };
    let (session, provider, subject, email) = match what.link {
        Some((session, provider, subject, email)) => {
            (Some(session), Some(provider), Some(subject), email)
        }
        None => (None, None, None, None),
    };
    tx.execute(
        "INSERT INTO login_codes (code_hash, purpose, account_id, credential_version,
                                  client_challenge, session_id, provider, subject, email, expires_at)
         VALUES (sha256($1::bytea), $2, $3, $4, $5, $6, $7, $8, $9,
                 now() + make_interval(secs => $10))",
        &[
            &code.expose().as_bytes(),
            &purpose,
            &what.account_id,
            &what.credential_version,
            &what.client_challenge,
            &session,
            &provider,
            &subject,
            &email,
            &f64::from(LOGIN_CODE_TTL_SECONDS),
        ],
    )?;
    Ok(())
}

/// A login or link code taken: its account, locked `FOR NO KEY UPDATE`, and what it carried.
#[derive(Debug, Clone)]
pub struct TakenCode {
    /// `accounts.id`.
    pub account_id: i64,
    /// Its credential version.
    pub credential_version: i32,
    /// A second factor is on: a sign-in code is only the first step.
    pub mfa_enabled: bool,
    /// Disabled by an administrator since the callback.
    pub disabled: bool,
    /// The frontend's PKCE challenge, if it gave one.
    pub client_challenge: Option<String>,
    /// A link code's session, provider, subject and email.
    pub session_id: Option<i64>,
    /// The provider.
    pub provider: Option<String>,
    /// The provider's subject.
    pub subject: Option<String>,
    /// The email the provider gave.
    pub email: Option<String>,
}

/// Takes the code `code` of `purpose` (`sign_in` or `link`); it is deleted whatever it was.
/// `None`: unknown, used, expired, of the other purpose, or made for another credential version.
pub fn take_code(
    tx: &mut Tx<'_>,
    code: &OpaqueToken,
    purpose: &str,
) -> Result<Option<TakenCode>, Error> {
    let row = tx.query_opt(
        "WITH taken AS (
             DELETE FROM login_codes WHERE code_hash = sha256($1::bytea)
             RETURNING *, expires_at > now() AS live
         )
         SELECT a.id, a.credential_version, a.mfa_enabled, a.disabled_at IS NOT NULL,
                taken.client_challenge, taken.session_id, taken.provider, taken.subject, taken.email
           FROM taken JOIN accounts a ON a.id = taken.account_id
          WHERE taken.live AND taken.purpose = $2
            AND a.credential_version = taken.credential_version AND a.status = 'active'
            FOR NO KEY UPDATE OF a",
        &[&code.expose().as_bytes(), &purpose],
    )?;
    Ok(row.map(|r| TakenCode {
        account_id: r.get(0),
        credential_version: r.get(1),
        mfa_enabled: r.get(2),
        disabled: r.get(3),
        client_challenge: r.get(4),
        session_id: r.get(5),
        provider: r.get(6),
        subject: r.get(7),
        email: r.get(8),
    }))
}

/// Deletes expired states and codes (the reaper); returns how many.
pub fn reap_expired(client: &mut Connection) -> Result<u64, Error> {
    let row = client.query_one(
        "WITH states AS (DELETE FROM idp_states WHERE expires_at <= now() RETURNING 1),
              codes AS (DELETE FROM login_codes WHERE expires_at <= now() RETURNING 1)
         SELECT (SELECT count(*) FROM states) + (SELECT count(*) FROM codes)",
        &[],
    )?;
    Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
}
