//! The account as its owner sees it: the profile and the display name.

/// `GET /me`: times are RFC 3339 UTC with second precision, as PostgreSQL renders them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// Normalized email.
    pub email: String,
    /// Display name, if set.
    pub display_name: Option<String>,
    /// When the claim that became this account was made.
    pub created_at: String,
    /// When it was activated.
    pub activated_at: String,
    /// `user` or `admin`.
    pub role: String,
    /// A confirmed second factor (TOTP).
    pub totp_enabled: bool,
}

/// Most characters in a display name, after trimming.
pub const MAX_DISPLAY_NAME_CHARS: usize = 100;

/// A display name: 1–100 characters after trimming surrounding whitespace, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    /// Trims, then checks length (in characters) and control characters.
    pub fn parse(raw: &str) -> Option<DisplayName> {
        let trimmed = raw.trim();
        let length = trimmed.chars().count();
        let ok = (1..=MAX_DISPLAY_NAME_CHARS).contains(&length)
            && !trimmed.chars().any(char::is_control);
        ok.then(|| DisplayName(trimmed.to_owned()))
    }

    /// The trimmed name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_are_trimmed_and_bounded() {
        assert_eq!(DisplayName::parse("  Ada Lovelace ").unwrap().as_str(), "Ada Lovelace");
        assert!(DisplayName::parse(&"é".repeat(100)).is_some());
        for bad in ["", "   ", "tab\tinside", "bell\u{7}", "nul\u{0}"] {
            assert!(DisplayName::parse(bad).is_none(), "{bad:?}");
        }
        assert!(DisplayName::parse(&"x".repeat(101)).is_none());
    }
}
