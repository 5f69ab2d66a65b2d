//! Authenticated encryption of secrets the service must be able to read back (TOTP secrets), so
//! that a database dump alone does not yield them: XChaCha20-Poly1305 (RustCrypto's
//! `chacha20poly1305`) under `TOTP_ENCRYPTION_KEY`, a fresh random 192-bit nonce per seal, and the
//! owning row's id as associated data, so a sealed value copied to another row does not open.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Bytes of the nonce stored in front of each ciphertext.
const NONCE_BYTES: usize = 24;

/// The key used when `TOTP_ENCRYPTION_KEY` is unset: public (it is in this source file), so it
/// protects nothing; it only lets a development setup run without configuration. The process logs
/// `totp_key_is_the_development_default` at start while it is in use.
pub const DEVELOPMENT_KEY: [u8; 32] = *b"beefirst development key, public";

/// A sealing key, and the MAC keyed with a key derived from it.
pub struct SealingKey {
    cipher: XChaCha20Poly1305,
    mac: Hmac<Sha256>,
}

impl SealingKey {
    /// The cipher for a 32-byte key; the MAC key is HMAC-SHA256(key, a fixed label), so the two
    /// uses never share a key. Errors: never in practice (HMAC takes keys of any length).
    pub fn new(key: &[u8; 32]) -> Result<SealingKey, hmac::digest::InvalidLength> {
        let mut derive = <Hmac<Sha256> as Mac>::new_from_slice(key)?;
        Mac::update(&mut derive, b"beefirst recovery codes v1");
        let mac_key = Mac::finalize(derive).into_bytes();
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(&mac_key)?;
        Ok(SealingKey { cipher: XChaCha20Poly1305::new(key.into()), mac })
    }

    /// HMAC-SHA256 of `data` bound to `owner`, under the derived key: how recovery codes are
    /// stored. Lookups stay an equality match, while a dump of the database alone cannot be
    /// searched for the 50-bit codes (OWASP ASVS 5.0 V6.5: a secret under 112 bits needs more than
    /// a plain hash).
    pub fn tag(&self, owner: i64, data: &[u8]) -> Vec<u8> {
        let mut mac = self.mac.clone();
        Mac::update(&mut mac, &owner.to_be_bytes());
        Mac::update(&mut mac, data);
        Mac::finalize(mac).into_bytes().to_vec()
    }

    /// `nonce ‖ ciphertext ‖ tag` of `plaintext`, bound to `owner`. Errors: no randomness.
    pub fn seal(&self, plaintext: &[u8], owner: i64) -> Result<Vec<u8>, getrandom::Error> {
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::fill(&mut nonce)?;
        let aad = owner.to_be_bytes();
        let payload = Payload { msg: plaintext, aad: &aad };
        // Encryption fails only for messages beyond 256 GiB.
        let sealed = self.cipher.encrypt(XNonce::from_slice(&nonce), payload).unwrap_or_default();
        Ok([nonce.as_slice(), &sealed].concat())
    }

    /// The plaintext of a value sealed for `owner` under this key, or `None` (another key,
    /// another owner, or tampered with).
    pub fn open(&self, sealed: &[u8], owner: i64) -> Option<Vec<u8>> {
        if sealed.len() < NONCE_BYTES {
            return None;
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_BYTES);
        let aad = owner.to_be_bytes();
        self.cipher.decrypt(XNonce::from_slice(nonce), Payload { msg: ciphertext, aad: &aad }).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_only_with_its_key_and_owner() {
        let key = SealingKey::new(&[7; 32]).unwrap();
        let sealed = key.seal(b"twenty bytes secret!", 42).unwrap();
        assert_eq!(sealed.len(), 24 + 20 + 16);
        assert!(!sealed.windows(6).any(|w| w == b"twenty"), "encrypted");
        assert_eq!(key.open(&sealed, 42).as_deref(), Some(&b"twenty bytes secret!"[..]));
        assert_eq!(key.open(&sealed, 43), None, "another row");
        assert_eq!(SealingKey::new(&[8; 32]).unwrap().open(&sealed, 42), None, "another key");
        let mut tampered = sealed.clone();
        tampered[30] ^= 1;
        assert_eq!(key.open(&tampered, 42), None);
        assert_eq!(key.open(&sealed[..10], 42), None);
        assert_ne!(key.seal(b"same", 1).unwrap(), key.seal(b"same", 1).unwrap(), "fresh nonce");
        assert_eq!(key.tag(1, b"code").len(), 32);
        assert_eq!(key.tag(1, b"code"), key.tag(1, b"code"));
        assert_ne!(key.tag(1, b"code"), key.tag(2, b"code"), "bound to the owner");
        assert_ne!(key.tag(1, b"code"), SealingKey::new(&[8; 32]).unwrap().tag(1, b"code"));
    }
}
