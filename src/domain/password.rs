//! Passwords as accepted from a person (seed truth #5, "Provisional credentials").

use std::collections::HashSet;
use std::fmt;
use std::sync::OnceLock;
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfkc, is_nfkc_quick};

/// Fewest bytes accepted (NIST SP 800-63B §3.1.1.2: at least 8 characters).
pub const MIN_PASSWORD_BYTES: usize = 8;
/// Most bytes accepted: bcrypt reads only the first 72 bytes, and we never truncate silently.
/// (All 72 count: bcrypt drops only its own NUL terminator at this length, which is why the bcrypt
/// crate's `non_truncating_*` functions refuse 72 and we use the plain ones behind this bound.)
pub const MAX_PASSWORD_BYTES: usize = 72;

/// Openwall's list of the 3,546 most common passwords (Debian package john-data), embedded at build
/// time. See `.ci/update-common-passwords`.
const COMMON_PASSWORDS: &str = include_str!("common_passwords.txt");

/// A password of 8 to 72 bytes of UTF-8, NFKC-normalized, without NUL, that is not a common
/// password. No composition rules (NIST SP 800-63B §3.1.1.2; OWASP ASVS 6.2.4: reject at least the
/// top 3,000 passwords).
///
/// Normalized to NFKC before anything else (NIST SP 800-63B §5.1.1.2), so a password typed with
/// precomposed or decomposed accents, or full-width or ligature forms, is the same password on
/// every device. The byte limits apply to the normalized form, which is what bcrypt hashes.
/// `Debug` never prints the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

/// Why a string is not an acceptable [`Password`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordError {
    /// Fewer than [`MIN_PASSWORD_BYTES`] bytes.
    TooShort,
    /// More than [`MAX_PASSWORD_BYTES`] bytes.
    TooLong,
    /// Contains U+0000: bcrypt stops reading at NUL, so `"…x\0"` would equal `"…x"`.
    Nul,
    /// On the list of common passwords (compared case-insensitively).
    Common,
}

impl Password {
    /// A new password (registration, change): [`Password::parse_existing`] plus the
    /// common-password check.
    pub fn parse(raw: String) -> Result<Password, PasswordError> {
        let candidate = Password::parse_existing(raw)?;
        if is_common(candidate.expose()) {
            return Err(PasswordError::Common);
        }
        Ok(candidate)
    }

    /// A password presented to be verified against a stored hash: normalized to NFKC, then 8 to
    /// 72 bytes without NUL (it was checked against the common list when it was set).
    pub fn parse_existing(raw: String) -> Result<Password, PasswordError> {
        let normalized = if is_nfkc_quick(raw.chars()) == IsNormalized::Yes {
            raw
        } else {
            raw.nfkc().collect()
        };
        Password::checked(normalized)
    }

    /// The password exactly as typed, when that differs from its NFKC form: hashes made before
    /// passwords were normalized were made from this form (verified once, then re-hashed).
    pub fn legacy_form(raw: &str) -> Option<Password> {
        if is_nfkc_quick(raw.chars()) == IsNormalized::Yes || is_nfkc(raw) {
            return None;
        }
        Password::checked(raw.to_owned()).ok()
    }

    fn checked(password: String) -> Result<Password, PasswordError> {
        if password.len() < MIN_PASSWORD_BYTES {
            Err(PasswordError::TooShort)
        } else if password.len() > MAX_PASSWORD_BYTES {
            Err(PasswordError::TooLong)
        } else if password.contains('\0') {
            Err(PasswordError::Nul)
        } else {
            Ok(Password(password))
        }
    }

    /// The secret bytes, for hashing and verification only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// The cost (work factor) recorded in a bcrypt hash string (`$2b$12$…` → 12); `None` if the
/// string is not shaped like one.
pub fn hash_cost(hash: &str) -> Option<u32> {
    let mut fields = hash.split('$');
    match (fields.next(), fields.next(), fields.next()) {
        (Some(""), Some(_variant), Some(cost)) if cost.len() == 2 => cost.parse().ok(),
        _ => None,
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
        assert_eq!(Password::parse_existing("1234567".into()), Err(PasswordError::TooShort));
        assert!(Password::parse_existing("12345678".into()).is_ok());
        assert!(Password::parse_existing("x".repeat(72)).is_ok());
        assert_eq!(Password::parse_existing("x".repeat(73)), Err(PasswordError::TooLong));
    }

    #[test]
    fn bounds_count_bytes_not_characters() {
        // 24 three-byte characters are 72 bytes; one more is over bcrypt's limit.
        assert!(Password::parse_existing("€".repeat(24)).is_ok());
        assert_eq!(Password::parse_existing("€".repeat(25)), Err(PasswordError::TooLong));
        // 4 characters, 8 bytes.
        assert!(Password::parse_existing("éééé".into()).is_ok());
    }

    #[test]
    fn common_passwords_are_rejected_case_insensitively() {
        for common in ["password", "12345678", "PassWord1", "iloveyou", "baseball"] {
            assert_eq!(Password::parse(common.into()), Err(PasswordError::Common), "{common}");
            assert!(Password::parse_existing(common.into()).is_ok());
        }
        assert!(Password::parse("correct horse".into()).is_ok());
    }

    #[test]
    fn the_list_is_the_full_openwall_list() {
        let entries = COMMON_PASSWORDS.lines().filter(|l| !l.starts_with("#!comment")).count();
        assert!(entries >= 3_000, "{entries}");
    }

    #[test]
    fn the_cost_is_read_from_the_hash() {
        assert_eq!(hash_cost("$2b$12$abcdefghijklmnopqrstuv"), Some(12));
        assert_eq!(hash_cost("$2y$04$x"), Some(4));
        for bad in ["", "2b$12$x", "$2b$1$x", "$2b$xx$y", "plain"] {
            assert_eq!(hash_cost(bad), None, "{bad}");
        }
    }

    #[test]
    fn nul_is_refused_because_bcrypt_would_stop_there() {
        let with_nul = format!("{}\0", "x".repeat(71));
        assert_eq!(Password::parse_existing(with_nul), Err(PasswordError::Nul));
        assert_eq!(Password::parse("correct\0horse".into()), Err(PasswordError::Nul));
    }

    #[test]
    fn passwords_are_nfkc_normalized_before_anything_else() {
        let decomposed = Password::parse("cafe\u{301} au lait".into()).unwrap();
        let composed = Password::parse("caf\u{e9} au lait".into()).unwrap();
        assert_eq!(decomposed, composed);
        let wide = Password::parse("\u{ff43}orrect horse".into()).unwrap(); // full-width c
        assert_eq!(wide.expose(), "correct horse");
        assert_eq!(
            Password::legacy_form("\u{ff43}orrect horse").map(|p| p.expose().to_owned()),
            Some("\u{ff43}orrect horse".to_owned())
        );
        assert!(Password::legacy_form("correct horse").is_none());
        // The limits apply to the normalized form: U+FB03 (3 bytes) becomes "ffi" (3 bytes),
        // U+2474 "⑵" (3 bytes) becomes "(2)" (3 bytes); U+FDFA (3 bytes) becomes 33 bytes.
        assert_eq!(Password::parse_existing("\u{fdfa}".repeat(3)), Err(PasswordError::TooLong));
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let p = Password::parse("correct horse".into()).unwrap();
        assert!(!format!("{p:?}").contains("horse"));
    }
}
