//! Session tokens (opaque bearer tokens of a login session).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::fmt;

/// Random bytes in a token: 256 bits, far beyond guessing (OWASP Session Management Cheat Sheet
/// asks for at least 64 bits of entropy).
pub const TOKEN_BYTES: usize = 32;
/// Length of a token as text: 32 bytes in base64url without padding.
pub const TOKEN_CHARS: usize = 43;

/// An opaque bearer token: 32 bytes from the OS CSPRNG, base64url without padding. The service
/// stores only its SHA-256; the text exists in a response once and in the client's hands.
/// `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(String);

impl SessionToken {
    /// A fresh token. Errors: the OS random source failed.
    pub fn generate() -> Result<SessionToken, getrandom::Error> {
        let mut bytes = [0u8; TOKEN_BYTES];
        getrandom::fill(&mut bytes)?;
        Ok(SessionToken(URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// Accepts exactly the shape [`generate`](Self::generate) produces (43 base64url characters);
    /// anything else cannot be a token and is refused before the database is asked.
    pub fn parse(raw: &str) -> Option<SessionToken> {
        let shaped = raw.len() == TOKEN_CHARS
            && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        (shaped && URL_SAFE_NO_PAD.decode(raw).is_ok_and(|b| b.len() == TOKEN_BYTES))
            .then(|| SessionToken(raw.to_owned()))
    }

    /// The token text, for the login response and for hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_are_43_url_safe_characters_and_differ() {
        let a = SessionToken::generate().unwrap();
        let b = SessionToken::generate().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), TOKEN_CHARS);
        assert_eq!(SessionToken::parse(a.expose()), Some(a));
    }

    #[test]
    fn malformed_tokens_are_refused() {
        let good = SessionToken::generate().unwrap().expose().to_owned();
        for bad in [
            String::new(),
            good[1..].to_owned(),
            format!("{good}A"),
            good.replace(|_: char| true, "+"),
            format!("{}=", &good[..42]),
        ] {
            assert!(SessionToken::parse(&bad).is_none(), "{bad}");
        }
    }
}
