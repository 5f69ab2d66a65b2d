//! Passwords as accepted from a person (seed truth #5, "Provisional credentials").

use std::fmt;

/// Fewest bytes accepted (NIST SP 800-63B §3.1.1.2: at least 8 characters).
pub const MIN_PASSWORD_BYTES: usize = 8;
/// Most bytes accepted: bcrypt reads only the first 72 bytes, and we never truncate silently.
/// (All 72 count: bcrypt drops only its own NUL terminator at this length, which is why the bcrypt
/// crate's `non_truncating_*` functions refuse 72 and we use the plain ones behind this bound.)
pub const MAX_PASSWORD_BYTES: usize = 72;

/// A password of 8 to 72 bytes of UTF-8. No composition rules (NIST SP 800-63B §3.1.1.2).
///
/// `Debug` and `Display` never print the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

/// Why a string is not an acceptable [`Password`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordError {
    /// Fewer than [`MIN_PASSWORD_BYTES`] bytes.
    TooShort,
    /// More than [`MAX_PASSWORD_BYTES`] bytes.
    TooLong,
}

impl Password {
    /// Accepts 8 to 72 bytes; the bytes are kept exactly as given (no trimming, no normalization).
    pub fn parse(raw: String) -> Result<Password, PasswordError> {
        if raw.len() < MIN_PASSWORD_BYTES {
            Err(PasswordError::TooShort)
        } else if raw.len() > MAX_PASSWORD_BYTES {
            Err(PasswordError::TooLong)
        } else {
            Ok(Password(raw))
        }
    }

    /// The secret bytes, for hashing and verification only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_8_and_72_bytes() {
        assert_eq!(
            Password::parse("1234567".into()),
            Err(PasswordError::TooShort)
        );
        assert!(Password::parse("12345678".into()).is_ok());
        assert!(Password::parse("x".repeat(72)).is_ok());
        assert_eq!(Password::parse("x".repeat(73)), Err(PasswordError::TooLong));
    }

    #[test]
    fn bounds_count_bytes_not_characters() {
        // 24 three-byte characters are 72 bytes; one more is over bcrypt's limit.
        assert!(Password::parse("€".repeat(24)).is_ok());
        assert_eq!(Password::parse("€".repeat(25)), Err(PasswordError::TooLong));
        // 4 characters, 8 bytes.
        assert!(Password::parse("éééé".into()).is_ok());
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let p = Password::parse("correct horse".into()).unwrap();
        assert!(!format!("{p:?}").contains("horse"));
    }
}
