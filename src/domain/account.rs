//! The account as its owner sees it: the profile and the display name; its role and status.

use super::email::Email;

/// An account's role (contract v2): in `GET /me`, the access token's `role` claim and the admin
/// API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Everyone.
    User,
    /// May use the admin API.
    Admin,
}

impl Role {
    /// As stored and shown: `user` or `admin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
        }
    }

    /// `user` or `admin`; `None` for anything else.
    pub fn parse(name: &str) -> Option<Role> {
        [Role::User, Role::Admin].into_iter().find(|r| r.as_str() == name)
    }
}

/// A row of `accounts`: a claim waiting for its code, or an activated account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountStatus {
    /// A claim (seed truth #1): the email is held until the code arrives or the window passes.
    Pending,
    /// An activated account.
    Active,
}

impl AccountStatus {
    /// As stored and shown: `pending` or `active`.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Pending => "pending",
            AccountStatus::Active => "active",
        }
    }

    /// `pending` or `active`; `None` for anything else.
    pub fn parse(name: &str) -> Option<AccountStatus> {
        [AccountStatus::Pending, AccountStatus::Active].into_iter().find(|s| s.as_str() == name)
    }
}

/// `GET /me`: times are RFC 3339 UTC with second precision, as PostgreSQL renders them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// Normalized email.
    pub email: Email,
    /// Display name, if set.
    pub display_name: Option<String>,
    /// When the claim that became this account was made.
    pub created_at: String,
    /// When it was activated.
    pub activated_at: String,
    /// Its role.
    pub role: Role,
    /// A confirmed second factor (TOTP).
    pub totp_enabled: bool,
    /// Unused recovery codes of the second factor (0 when it is off).
    pub recovery_codes_left: i64,
    /// False for an account made from another provider until the reset flow sets a password.
    pub password_set: bool,
}

/// Most characters in a display name, after trimming.
pub const MAX_DISPLAY_NAME_CHARS: usize = 100;

/// A display name: 1–100 characters after trimming surrounding whitespace, none a control
/// character, invisible or a line break (it is shown to people: see `email::is_shown`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    /// Trims, then checks length (in characters) and that every character is shown.
    pub fn parse(raw: &str) -> Option<DisplayName> {
        let trimmed = raw.trim();
        let length = trimmed.chars().count();
        let ok = (1..=MAX_DISPLAY_NAME_CHARS).contains(&length)
            && trimmed.chars().all(super::email::is_shown);
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
    fn roles_and_statuses_round_trip_their_stored_names() {
        for role in [Role::User, Role::Admin] {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        for status in [AccountStatus::Pending, AccountStatus::Active] {
            assert_eq!(AccountStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(Role::parse("root"), None);
        assert_eq!(AccountStatus::parse("disabled"), None);
    }

    #[test]
    fn display_names_are_trimmed_and_bounded() {
        assert_eq!(DisplayName::parse("  Ada Lovelace ").unwrap().as_str(), "Ada Lovelace");
        assert!(DisplayName::parse(&"é".repeat(100)).is_some());
        for bad in
            ["", "   ", "tab\tinside", "bell\u{7}", "nul\u{0}", "rlo\u{202E}", "zw\u{200B}sp"]
        {
            assert!(DisplayName::parse(bad).is_none(), "{bad:?}");
        }
        assert!(DisplayName::parse(&"x".repeat(101)).is_none());
    }
}
