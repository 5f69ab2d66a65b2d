//! Access tokens: signing them, publishing the keys (JWKS), and authenticating a Bearer request.
//!
//! Keys: each process signs with one Ed25519 key, `JWT_SIGNING_KEY` or a fresh one from
//! getrandom, and lists its public half in the database at start and every reaper interval. A
//! key stays listed (and accepted) until every token it signed has expired, so several instances
//! on one database accept each other's tokens, and a restart or a new `JWT_SIGNING_KEY` logs
//! nobody out. No private key is stored anywhere.

use super::AppState;
use crate::domain::SessionRef;
use crate::error::Error;
use crate::jwt::{self, Claims};
use crate::store::{self, sessions::Issued, signing_keys};
use ed25519_dalek::VerifyingKey;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

/// Most access tokens remembered as verified; the memory is cleared when it is full.
const VERIFIED_CAPACITY: usize = 10_000;

/// This process's signing key, the verifying keys it has seen, and the access tokens it has
/// verified (by SHA-256 of the token: a client presents the same token for up to
/// `ACCESS_TOKEN_TTL_SECONDS`, and an Ed25519 verification costs more than the rest of a `GET /me`).
pub struct Keys {
    signing: jwt::Key,
    known: RwLock<HashMap<String, VerifyingKey>>,
    verified: RwLock<HashMap<[u8; 32], SessionRef>>,
}

impl Keys {
    /// The key of `seed` (`JWT_SIGNING_KEY`), or a fresh one. Errors: no randomness.
    pub fn new(seed: Option<[u8; 32]>) -> Result<Keys, Error> {
        let seed = match seed {
            Some(seed) => seed,
            None => {
                let mut seed = [0u8; 32];
                getrandom::fill(&mut seed)?;
                seed
            }
        };
        let signing = jwt::Key::from_seed(&seed);
        let own = VerifyingKey::from_bytes(&signing.public())
            .map_err(|_| Error::Internal("the signing key has no valid public half".into()))?;
        let known = RwLock::new(HashMap::from([(signing.kid.clone(), own)]));
        Ok(Keys { signing, known, verified: RwLock::new(HashMap::new()) })
    }

    /// The `kid` this process signs with.
    pub fn kid(&self) -> &str {
        &self.signing.kid
    }
}

/// How long past now this process's key is listed, in seconds: the life of a token it may sign
/// now, plus ten minutes, so heartbeats (every reaper interval) may fail for that long before a
/// key whose tokens are still valid could drop out of the list.
fn listing_window(state: &AppState) -> u32 {
    state.config.access_token_ttl_seconds + 600
}

/// Lists this process's key (at start, and from the reaper: a heartbeat while it signs) and
/// deletes keys retired for a day. Returns how many were deleted.
pub fn maintain_keys(state: &AppState) -> Result<u64, Error> {
    let mut client = store::checkout(&state.pool)?;
    let (kid, public) = (state.keys.kid(), state.keys.signing.public());
    signing_keys::register(&mut client, kid, &public, listing_window(state))?;
    signing_keys::delete_retired(&mut client)
}

/// The access token for a session as `issued` says it is now, and its lifetime in seconds.
pub fn issue(state: &AppState, issued: &Issued) -> (String, u32) {
    let ttl = state.config.access_token_ttl_seconds;
    let claims = Claims {
        iss: state.config.jwt_issuer.clone(),
        sub: issued.account_id.to_string(),
        sid: issued.session_id,
        email: issued.email.clone(),
        role: issued.role.clone(),
        amr: issued.amr.clone(),
        iat: issued.now,
        exp: issued.now + i64::from(ttl),
    };
    (state.keys.signing.sign(&claims), ttl)
}

/// `GET /.well-known/jwks.json`: every key that may have signed a token still valid.
pub fn jwks(state: &AppState) -> Result<Value, Error> {
    let mut client = store::checkout(&state.pool)?;
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
    let verified = &state.keys.verified;
    if let Some(session) = verified.read().unwrap_or_else(PoisonError::into_inner).get(&digest) {
        return Ok(*session);
    }
    let session = verify_token(state, token)?;
    let mut verified = verified.write().unwrap_or_else(PoisonError::into_inner);
    if verified.len() >= VERIFIED_CAPACITY {
        verified.clear();
    }
    verified.insert(digest, session);
    Ok(session)
}

/// [`authenticate`] without the memory of verified tokens.
fn verify_token(state: &AppState, token: &str) -> Result<SessionRef, Error> {
    let kid = jwt::key_id(token).map_err(|_| Error::InvalidToken)?;
    let key = verifying_key(state, &kid)?.ok_or(Error::InvalidToken)?;
    let claims =
        jwt::verify(token, &state.config.jwt_issuer, &key).map_err(|_| Error::InvalidToken)?;
    let account_id = claims.sub.parse().map_err(|_| Error::InvalidToken)?;
    Ok(SessionRef { id: claims.sid, account_id, expires: claims.exp })
}

/// The verifying key of `kid`: from memory, else from the database (then remembered).
fn verifying_key(state: &AppState, kid: &str) -> Result<Option<VerifyingKey>, Error> {
    let known = &state.keys.known;
    if let Some(key) = known.read().unwrap_or_else(PoisonError::into_inner).get(kid) {
        return Ok(Some(*key));
    }
    let mut client = store::checkout(&state.pool)?;
    let Some(public) = signing_keys::find(&mut client, kid)? else {
        return Ok(None);
    };
    let Some(key) = public.try_into().ok().and_then(|b| VerifyingKey::from_bytes(&b).ok()) else {
        return Ok(None);
    };
    known.write().unwrap_or_else(PoisonError::into_inner).insert(kid.to_owned(), key);
    Ok(Some(key))
}
