//! Passwords as accepted from a person (seed truth #5, "Provisional credentials").

use std::collections::HashSet;
use std::fmt;
use std::sync::OnceLock;

/// Fewest bytes accepted (NIST SP 800-63B §3.1.1.2: at least 8 characters).
pub const MIN_PASSWORD_BYTES: usize = 8;
/// Most bytes accepted: bcrypt reads only the first 72 bytes, and we never truncate silently.
/// (All 72 count: bcrypt drops only its own NUL terminator at this length, which is why the bcrypt
/// crate's `non_truncating_*` functions refuse 72 and we use the plain ones behind this bound.)
pub const MAX_PASSWORD_BYTES: usize = 72;

/// Openwall's list of the 3,546 most common passwords (Debian package john-data), embedded at build
/// time. See `.ci/update-common-passwords`.
const COMMON_PASSWORDS: &str = include_str!("common_passwords.txt");

/// A password of 8 to 72 bytes of UTF-8 that is not a common password. No composition rules
/// (NIST SP 800-63B §3.1.1.2; OWASP ASVS 6.2.4: reject at least the top 3,000 passwords).
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
    /// On the list of common passwords (compared case-insensitively).
    Common,
}

impl Password {
    /// Accepts 8 to 72 bytes that are not a common password; the bytes are kept exactly as given
    /// (no trimming, no normalization). Use for new passwords (registration).
    pub fn parse(raw: String) -> Result<Password, PasswordError> {
        let candidate = Password::parse_existing(raw)?;
        if is_common(candidate.expose()) {
            return Err(PasswordError::Common);
        }
        Ok(candidate)
    }

    /// Accepts 8 to 72 bytes without the common-password check: for passwords presented to be
    /// verified against a stored hash, which were checked when they were set.
    pub fn parse_existing(raw: String) -> Result<Password, PasswordError> {
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

/// True when `password`, lowercased, is on the embedded list. The set is built once, on first use
/// (call [`warm_up`] at start-up to keep that off the request path).
pub fn is_common(password: &str) -> bool {
    common_set().contains(password.to_lowercase().as_str())
}

/// Builds the common-password set now.
pub fn warm_up() {
    common_set();
}

fn common_set() -> &'static HashSet<String> {
    static SET: OnceLock<HashSet<String>> = OnceLock::new();
    SET.get_or_init(|| {
        COMMON_PASSWORDS
            .lines()
            .filter(|line| !line.starts_with("#!comment"))
            .filter(|line| (MIN_PASSWORD_BYTES..=MAX_PASSWORD_BYTES).contains(&line.len()))
            .map(str::to_lowercase)
            .collect()
    })
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
            Password::parse_existing("1234567".into()),
            Err(PasswordError::TooShort)
        );
        assert!(Password::parse_existing("12345678".into()).is_ok());
        assert!(Password::parse_existing("x".repeat(72)).is_ok());
        assert_eq!(
            Password::parse_existing("x".repeat(73)),
            Err(PasswordError::TooLong)
        );
    }

    #[test]
    fn bounds_count_bytes_not_characters() {
        // 24 three-byte characters are 72 bytes; one more is over bcrypt's limit.
        assert!(Password::parse_existing("€".repeat(24)).is_ok());
        assert_eq!(
            Password::parse_existing("€".repeat(25)),
            Err(PasswordError::TooLong)
        );
        // 4 characters, 8 bytes.
        assert!(Password::parse_existing("éééé".into()).is_ok());
    }

    #[test]
    fn common_passwords_are_rejected_case_insensitively() {
        for common in ["password", "12345678", "PassWord1", "iloveyou", "baseball"] {
            assert_eq!(
                Password::parse(common.into()),
                Err(PasswordError::Common),
                "{common}"
            );
            assert!(Password::parse_existing(common.into()).is_ok());
        }
        assert!(Password::parse("correct horse".into()).is_ok());
    }

    #[test]
    fn the_list_is_the_full_openwall_list() {
        let entries = COMMON_PASSWORDS
            .lines()
            .filter(|l| !l.starts_with("#!comment"))
            .count();
        assert!(entries >= 3_000, "{entries}");
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let p = Password::parse("correct horse".into()).unwrap();
        assert!(!format!("{p:?}").contains("horse"));
    }
}
