//! This process's key that signs access tokens, the verifying keys it has seen, and the access
//! tokens it has verified (by SHA-256 of the token: a client presents the same token for up to
//! `ACCESS_TOKEN_TTL_SECONDS`, and an Ed25519 verification costs more than the rest of a
//! `GET /me`). Listing keys in the database and reading them back is the sessions feature's.

use super::jwt::{self, Claims};
use crate::domain::SessionRef;
use crate::error::Error;
use ed25519_dalek::VerifyingKey;
use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

/// Most access tokens remembered as verified; the memory is cleared when it is full.
const VERIFIED_CAPACITY: usize = 10_000;

/// See the module's documentation.
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
            .map_err(|_| Error::internal("the signing key has no valid public half"))?;
        let known = RwLock::new(HashMap::from([(signing.kid.clone(), own)]));
        Ok(Keys { signing, known, verified: RwLock::new(HashMap::new()) })
    }

    /// The `kid` this process signs with.
    pub fn kid(&self) -> &str {
        &self.signing.kid
    }

    /// The public half of this process's key.
    pub fn public(&self) -> [u8; 32] {
        self.signing.public()
    }

    /// `claims` as a compact JWS signed with this process's key.
    pub fn sign(&self, claims: &Claims) -> String {
        self.signing.sign(claims)
    }

    /// The session of a token verified before, by the SHA-256 of the token.
    pub fn remembered(&self, digest: &[u8; 32]) -> Option<SessionRef> {
        self.verified.read().unwrap_or_else(PoisonError::into_inner).get(digest).copied()
    }

    /// Remembers a verified token's session (forgetting all of them once there are
    /// [`VERIFIED_CAPACITY`]).
    pub fn remember(&self, digest: [u8; 32], session: SessionRef) {
        let mut verified = self.verified.write().unwrap_or_else(PoisonError::into_inner);
        if verified.len() >= VERIFIED_CAPACITY {
            verified.clear();
        }
        verified.insert(digest, session);
    }

    /// A verifying key seen before.
    pub fn known(&self, kid: &str) -> Option<VerifyingKey> {
        self.known.read().unwrap_or_else(PoisonError::into_inner).get(kid).copied()
    }

    /// Remembers the verifying key of `kid`.
    pub fn learn(&self, kid: &str, key: VerifyingKey) {
        self.known.write().unwrap_or_else(PoisonError::into_inner).insert(kid.to_owned(), key);
    }
}
