//! Login sessions: the refresh token a client holds, and the session an access token names.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::fmt;

/// Random bytes in a token: 256 bits, far beyond guessing (OWASP Session Management Cheat Sheet
/// asks for at least 64 bits of entropy).
pub const TOKEN_BYTES: usize = 32;
/// Length of a token as text: 32 bytes in base64url without padding.
pub const TOKEN_CHARS: usize = 43;

/// An opaque bearer secret: 32 bytes from the OS CSPRNG, base64url without padding. The service
/// stores only its SHA-256; the text exists in a response once and in the client's hands.
/// `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct OpaqueToken(String);

/// The refresh token of a session (`POST /token/refresh`).
pub type RefreshToken = OpaqueToken;

/// The token that carries a login from the password step to the second-factor step
/// (`POST /login/mfa`).
pub type MfaToken = OpaqueToken;

impl OpaqueToken {
    /// A fresh token. Errors: the OS random source failed.
    pub fn generate() -> Result<OpaqueToken, getrandom::Error> {
        let mut bytes = [0u8; TOKEN_BYTES];
        getrandom::fill(&mut bytes)?;
        Ok(OpaqueToken(URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// Accepts exactly the shape [`generate`](Self::generate) produces (43 base64url characters);
    /// anything else cannot be a token and is refused before the database is asked.
    pub fn parse(raw: &str) -> Option<OpaqueToken> {
        let shaped = raw.len() == TOKEN_CHARS
            && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        (shaped && URL_SAFE_NO_PAD.decode(raw).is_ok_and(|b| b.len() == TOKEN_BYTES))
            .then(|| OpaqueToken(raw.to_owned()))
    }

    /// The token text, for the response and for hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for OpaqueToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OpaqueToken(<redacted>)")
    }
}

/// The login session an access token names, once its signature has been verified: it counts
/// only while the database finds it live (not expired, not revoked, same credential version as
/// its account) and the token itself has not expired (`expires`, database clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionRef {
    /// `sessions.id` (the `sid` claim).
    pub id: i64,
    /// `accounts.id` (the `sub` claim).
    pub account_id: i64,
    /// The token's `exp`, seconds since the Unix epoch.
    pub expires: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_are_43_url_safe_characters_and_differ() {
        let a = RefreshToken::generate().unwrap();
        let b = RefreshToken::generate().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), TOKEN_CHARS);
        assert_eq!(RefreshToken::parse(a.expose()), Some(a));
    }

    #[test]
    fn malformed_tokens_are_refused() {
        let good = RefreshToken::generate().unwrap().expose().to_owned();
        for bad in [
            String::new(),
            good[1..].to_owned(),
            format!("{good}A"),
            good.replace(|_: char| true, "+"),
            format!("{}=", &good[..42]),
        ] {
            assert!(RefreshToken::parse(&bad).is_none(), "{bad}");
        }
    }
}
