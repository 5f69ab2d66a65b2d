//! The NDJSON of `beefirst import` and `beefirst export`: one account a line, the same shape both
//! ways, and what an import reports.

use serde::{Deserialize, Serialize};

/// One line an import reads. Fields other than these are refused (a misspelt `pasword_hash`
/// must not import an account without its password).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportLine {
    /// Any case, surrounding spaces allowed; normalized.
    pub email: String,
    /// Default `true`. `false`: the password hash is dropped (see `decide::NewAccount`).
    pub email_verified: Option<bool>,
    /// bcrypt or Argon2id (`domain::ImportedHash`); absent or `null`: no password.
    pub password_hash: Option<String>,
    /// 1 to 100 characters after trimming.
    pub display_name: Option<String>,
    /// `user` (default) or `admin`.
    pub role: Option<String>,
    /// RFC 3339; default: the import's time.
    pub created_at: Option<String>,
    /// `true`: the account is disabled (as an administrator would), so a person locked out there
    /// stays locked out here. Default `false`.
    pub disabled: Option<bool>,
}

/// One line an export writes: every active account, its hash included (the file is secret).
#[derive(Serialize)]
pub struct ExportLine<'a> {
    /// Normalized.
    pub email: &'a str,
    /// Always `true`: an account here has proved its mailbox, or has no password and can only
    /// sign in by a way that proves it.
    pub email_verified: bool,
    /// bcrypt (or an imported Argon2id hash not yet re-made); omitted when it has no password.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_hash: Option<&'a str>,
    /// Omitted when not set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<&'a str>,
    /// `user` or `admin`.
    pub role: &'a str,
    /// RFC 3339 UTC.
    pub created_at: &'a str,
    /// Written only when `true`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub disabled: bool,
}

/// What became of the lines of an import.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Accounts made (with `--dry-run`: that would have been made).
    pub imported: u64,
    /// Lines whose email is an account or a pending claim already (or came earlier in the file).
    pub skipped: u64,
    /// Lines refused, each reported with its number and reason.
    pub failed: u64,
}

impl Summary {
    /// The last line printed: `imported 3, skipped 1 (email already present), failed 0`.
    pub fn line(&self, dry_run: bool) -> String {
        let verb = if dry_run { "would import" } else { "imported" };
        format!(
            "{verb} {}, skipped {} (email already present), failed {} (bad line)",
            self.imported, self.skipped, self.failed
        )
    }
}

/// One line of the report, on stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// Line `n` was refused: why.
    Bad { line: u64, reason: String },
    /// Line `n`'s email is present already.
    Skipped { line: u64, email: String },
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Report::Bad { line, reason } => write!(f, "line {line}: {reason}"),
            Report::Skipped { line, email } => {
                write!(f, "line {line}: skipped, {email} is already present")
            }
        }
    }
}
