//! What a finished sign-in gets (a new session and its token pair), access tokens (signing them,
//! publishing the keys as JWKS) and authenticating a Bearer request.
//!
//! Keys: each process signs with one Ed25519 key, `JWT_SIGNING_KEY` or a fresh one from
//! getrandom, and lists its public half in the database at start and every reaper interval. A
//! key stays listed (and accepted) until every token it signed has expired, so several instances
//! on one database accept each other's tokens, and a restart or a new `JWT_SIGNING_KEY` logs
//! nobody out. No private key is stored anywhere.

use super::sql::keys as signing_keys;
use super::sql::{self, Issued};
use crate::api::ApiRequest;
use crate::api::auth::parse_bearer;
use crate::app::AppState;
use crate::db;
use crate::domain::{AuditAction, MfaToken, RefreshToken, SessionRef};
use crate::error::Error;
use crate::security::jwt::{self, Claims};
use crate::uow::{Subject, UnitOfWork};
use ed25519_dalek::VerifyingKey;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// A signed-in client's credentials: a short-lived access token and the refresh token that
/// renews it.
pub struct TokenPair {
    /// The access JWT.
    pub access_token: String,
    /// Seconds until the access token expires (`ACCESS_TOKEN_TTL_SECONDS`).
    pub expires_in: u32,
    /// Opaque, single-use.
    pub refresh_token: RefreshToken,
}

/// What a passed first step (a right password, a right mailed code) gets.
pub enum Login {
    /// A new session and its first token pair.
    Tokens(TokenPair),
    /// The account has a second factor on: the code comes next, with this token
    /// (`POST /login/mfa`).
    MfaRequired(MfaToken),
}

/// The pair for a session as `issued` says it is now, with `refresh_token` (already stored).
pub fn pair(state: &AppState, issued: &Issued, refresh_token: RefreshToken) -> TokenPair {
    let (access_token, expires_in) = issue(state, issued);
    TokenPair { access_token, expires_in, refresh_token }
}

/// Whose session to start: the account whose first step (or both) was just passed, under the
/// credential version it was passed with.
#[derive(Debug, Clone, Copy)]
pub struct NewSession {
    /// `accounts.id`.
    pub account_id: i64,
    /// Its credential version at the check.
    pub credential_version: i32,
}

/// Creates a session with `amr` and its first refresh token in `uow`, and records the sign-in;
/// `None` when the account changed since its check (deleted, a new password, disabled, or, for a
/// session without `otp`, a second factor turned on).
pub fn start(
    uow: &mut UnitOfWork<'_>,
    state: &AppState,
    new: NewSession,
    amr: &[&str],
    user_agent: Option<&str>,
) -> Result<Option<(Issued, RefreshToken)>, Error> {
    let refresh_token = RefreshToken::generate()?;
    let ttl = state.config.sessions.ttl_seconds;
    let (id, version) = (new.account_id, new.credential_version);
    let Some(issued) = sql::create(uow.tx(), id, version, amr, user_agent, &refresh_token, ttl)?
    else {
        return Ok(None);
    };
    let details = json!({ "session_id": issued.session_id, "amr": amr });
    uow.record_with(Subject::Account(id), Some(id), AuditAction::LoginSucceeded, details);
    Ok(Some((issued, refresh_token)))
}

/// How long past now this process's key is listed, in seconds: the life of a token it may sign
/// now, plus ten minutes, so heartbeats (every reaper interval) may fail for that long before a
/// key whose tokens are still valid could drop out of the list.
fn listing_window(state: &AppState) -> u32 {
    state.config.sessions.access_token_ttl_seconds + 600
}

/// Lists this process's key (at start, and from the reaper: a heartbeat while it signs) and
/// deletes keys retired for a day. Returns how many were deleted.
pub fn maintain_keys(state: &AppState) -> Result<u64, Error> {
    let mut client = db::checkout(&state.pool)?;
    let (kid, public) = (state.keys.kid(), state.keys.public());
    signing_keys::register(&mut client, kid, &public, listing_window(state))?;
    signing_keys::delete_retired(&mut client)
}

/// The access token for a session as `issued` says it is now, and its lifetime in seconds.
pub fn issue(state: &AppState, issued: &Issued) -> (String, u32) {
    let ttl = state.config.sessions.access_token_ttl_seconds;
    let claims = Claims {
        iss: state.config.sessions.jwt_issuer.clone(),
        sub: issued.account_id.to_string(),
        sid: issued.session_id,
        email: issued.email.as_str().to_owned(),
        role: issued.role.as_str().to_owned(),
        amr: issued.amr.clone(),
        iat: issued.now,
        exp: issued.now + i64::from(ttl),
    };
    (state.keys.sign(&claims), ttl)
}

/// `GET /.well-known/jwks.json`: every key that may have signed a token still valid.
pub fn jwks(state: &AppState) -> Result<Value, Error> {
    let mut client = db::checkout(&state.pool)?;
    let keys: Vec<Value> = signing_keys::listed(&mut client)?
        .into_iter()
        .filter_map(|(kid, public)| Some(jwt::public_jwk(&kid, &public.try_into().ok()?)))
        .collect();
    Ok(json!({ "keys": keys }))
}

/// The session an access token names, once its header, key, signature and issuer check out.
/// Whether the session is live (and the token unexpired, by the database clock) is checked by
/// the statement that serves the request. Errors: 401 [`Error::InvalidToken`] for any flaw; 503
/// when an unknown `kid` cannot be looked up.
pub fn authenticate(state: &AppState, token: &str) -> Result<SessionRef, Error> {
    let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    if let Some(session) = state.keys.remembered(&digest) {
        return Ok(session);
    }
    let session = verify_token(state, token)?;
    state.keys.remember(digest, session);
    Ok(session)
}

/// [`authenticate`] without the memory of verified tokens.
fn verify_token(state: &AppState, token: &str) -> Result<SessionRef, Error> {
    let kid = jwt::key_id(token).map_err(|_| Error::InvalidToken)?;
    let key = verifying_key(state, &kid)?.ok_or(Error::InvalidToken)?;
    let claims = jwt::verify(token, &state.config.sessions.jwt_issuer, &key)
        .map_err(|_| Error::InvalidToken)?;
    let account_id = claims.sub.parse().map_err(|_| Error::InvalidToken)?;
    Ok(SessionRef { id: claims.sid, account_id, expires: claims.exp })
}

/// The verifying key of `kid`: from memory, else from the database (then remembered).
fn verifying_key(state: &AppState, kid: &str) -> Result<Option<VerifyingKey>, Error> {
    if let Some(key) = state.keys.known(kid) {
        return Ok(Some(key));
    }
    let mut client = db::checkout(&state.pool)?;
    let Some(public) = signing_keys::find(&mut client, kid)? else {
        return Ok(None);
    };
    let Some(key) = public.try_into().ok().and_then(|b| VerifyingKey::from_bytes(&b).ok()) else {
        return Ok(None);
    };
    state.keys.learn(kid, key);
    Ok(Some(key))
}

/// The session of a Bearer request's access token (signature, key and issuer checked; liveness is
/// checked by the statement that serves the request). Errors: 401 `invalid_token`.
pub fn bearer(request: &ApiRequest, state: &AppState) -> Result<SessionRef, Error> {
    let token = parse_bearer(request.authorization.as_deref()).ok_or(Error::InvalidToken)?;
    authenticate(state, token)
}
