//! Reading one variable: its value or its default, parsed, or a [`ConfigError`] naming it.

use super::settings::setting;
use std::fmt;

/// An invalid setting: the variable and what is wrong with it. The process exits with code 2.
#[derive(Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// Variable name.
    pub var: &'static str,
    /// What a valid value looks like.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid configuration: {} {}", self.var, self.message)
    }
}

/// One variable being read: its value, or its default from [`super::SETTINGS`].
pub struct Var {
    /// Variable name, as listed in [`super::SETTINGS`].
    pub name: &'static str,
    /// The value set in the environment (trimmed later), if not empty.
    pub value: Option<String>,
}

impl Var {
    fn raw(&self) -> &str {
        match &self.value {
            Some(v) => v.trim(),
            None => setting(self.name).map_or("", |s| s.default),
        }
    }

    /// Parses the value (or default) with `parse`; `rule` says what a valid value looks like.
    pub fn with<T>(&self, parse: impl Fn(&str) -> Option<T>, rule: &str) -> Result<T, ConfigError> {
        let raw = self.raw();
        parse(raw)
            .ok_or_else(|| ConfigError { var: self.name, message: format!("{rule} (got {raw:?})") })
    }

    /// Parses the value with `FromStr`.
    pub fn parse<T: std::str::FromStr>(&self, rule: &str) -> Result<T, ConfigError> {
        self.with(|v| v.parse().ok(), rule)
    }

    /// A whole number within the setting's range in [`super::SETTINGS`] (the one `--help`
    /// prints), and at most `limit` when another setting bounds it.
    pub fn number_up_to<T: TryFrom<u64>>(&self, limit: Option<u64>) -> Result<T, ConfigError> {
        let (min, max) = setting(self.name).and_then(|s| s.range).unwrap_or((0, 0));
        let max = limit.map_or(max, |limit| limit.min(max));
        let rule = format!("must be a whole number from {min} to {max}");
        self.with(
            |v| {
                v.parse::<u64>()
                    .ok()
                    .filter(|n| (min..=max).contains(n))
                    .and_then(|n| n.try_into().ok())
            },
            &rule,
        )
    }

    /// A whole number within the setting's range.
    pub fn number<T: TryFrom<u64>>(&self) -> Result<T, ConfigError> {
        self.number_up_to(None)
    }

    /// Any value that is not empty.
    pub fn text(&self) -> Result<String, ConfigError> {
        self.with(|v| Some(v.to_owned()), "must not be empty")
    }

    /// `true`/`1`/`yes` or `false`/`0`/`no`.
    pub fn flag(&self) -> Result<bool, ConfigError> {
        self.with(
            |v| match v.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => Some(true),
                "false" | "0" | "no" => Some(false),
                _ => None,
            },
            "must be true or false",
        )
    }

    /// An optional 32-byte key in base64url without padding (`JWT_SIGNING_KEY`,
    /// `TOTP_ENCRYPTION_KEY`); unset: `None`.
    pub fn key(&self) -> Result<Option<[u8; 32]>, ConfigError> {
        use base64::Engine;
        let Some(value) = &self.value else { return Ok(None) };
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(value.trim()).ok();
        bytes.and_then(|b| b.try_into().ok()).map(Some).ok_or_else(|| ConfigError {
            var: self.name,
            message: "must be 32 bytes in base64url (43 characters, no padding)".into(),
        })
    }
}
