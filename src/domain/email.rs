//! Email addresses as identities (seed truth #9, "Normalization").

use std::fmt;

/// Longest address accepted, in bytes after normalization (RFC 5321 §4.5.3.1.3 path limit minus
/// the angle brackets).
pub const MAX_EMAIL_BYTES: usize = 254;

/// A normalized email address: trimmed, lowercased, structurally plausible.
///
/// `John@Example.COM ` and `john@example.com` parse to the same value, so they are one identity
/// (seed truth #9; failure scenario 6, "case sensitivity trap"). The only constructor is
/// [`Email::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

/// Why a string is not an [`Email`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailError {
    /// No `@`, or nothing before or after the last `@`.
    Shape,
    /// Whitespace or a control character inside the address.
    ForbiddenCharacter,
    /// Longer than [`MAX_EMAIL_BYTES`] bytes.
    TooLong,
}

impl Email {
    /// Trims surrounding whitespace, lowercases the whole address, then checks its shape.
    ///
    /// Errors: [`EmailError`] saying which rule failed (contract: "HTTP conventions").
    pub fn parse(raw: &str) -> Result<Email, EmailError> {
        let normalized = raw.trim().to_lowercase();
        if normalized.len() > MAX_EMAIL_BYTES {
            return Err(EmailError::TooLong);
        }
        if normalized
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(EmailError::ForbiddenCharacter);
        }
        match normalized.rsplit_once('@') {
            Some((local, domain)) if !local.is_empty() && !domain.is_empty() => {
                Ok(Email(normalized))
            }
            _ => Err(EmailError::Shape),
        }
    }

    /// The normalized address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_and_surrounding_whitespace_are_one_identity() {
        let a = Email::parse("  John@Example.COM \t").unwrap();
        let b = Email::parse("john@example.com").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.as_str(), "john@example.com");
    }

    #[test]
    fn malformed_addresses_are_rejected_with_the_rule_they_break() {
        let cases = [
            ("", EmailError::Shape),
            ("   ", EmailError::Shape),
            ("no-at-sign", EmailError::Shape),
            ("@example.com", EmailError::Shape),
            ("someone@", EmailError::Shape),
            ("some one@example.com", EmailError::ForbiddenCharacter),
            ("someone@exa\tmple.com", EmailError::ForbiddenCharacter),
            ("some\u{0}one@example.com", EmailError::ForbiddenCharacter),
            ("some\u{7f}@example.com", EmailError::ForbiddenCharacter),
        ];
        for (input, expected) in cases {
            assert_eq!(Email::parse(input), Err(expected), "input {input:?}");
        }
    }

    #[test]
    fn length_limit_is_254_bytes_after_normalization() {
        let domain = "@example.com";
        let ok = format!("{}{domain}", "a".repeat(MAX_EMAIL_BYTES - domain.len()));
        assert!(Email::parse(&format!("  {ok}  ")).is_ok());
        let long = format!("a{ok}");
        assert_eq!(Email::parse(&long), Err(EmailError::TooLong));
    }

    #[test]
    fn unicode_is_lowercased_too() {
        let e = Email::parse("ÄNNE@Example.de").unwrap();
        assert_eq!(e.as_str(), "änne@example.de");
    }
}
