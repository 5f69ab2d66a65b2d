//! SQL of what a password is checked against: an account's or a claim's hash and state.

use crate::db::pool::{Connection, Queries};
use crate::domain::{AccountStatus, Email};
use crate::error::Error;

/// What a password is checked against.
#[derive(Debug, Clone)]
pub struct StoredCredentials {
    /// Row id.
    pub id: i64,
    /// bcrypt hash.
    pub password_hash: String,
    /// A claim or an account.
    pub status: AccountStatus,
    /// A pending claim whose window has passed (database clock); false for accounts.
    pub claim_expired: bool,
    /// `credential_version`: changes with every new password or replaced claim, so later
    /// statements can tell that the row is still the one whose password was checked.
    pub credential_version: i32,
    /// A confirmed TOTP factor: a login needs a code after the password.
    pub second_factor: bool,
    /// Disabled by an administrator: the right password gets 403.
    pub disabled: bool,
}

/// The password hash and status for `email`, expired claims included (so that a wrong password
/// on an expired claim still answers 401, not 410: no oracle).
pub fn find_credentials(
    client: &mut Connection,
    email: &Email,
) -> Result<Option<StoredCredentials>, Error> {
    let row = client.query_opt(
        "SELECT id, password_hash, status, coalesce(code_expires_at <= now(), false),
                credential_version, mfa_enabled, disabled_at IS NOT NULL
           FROM accounts WHERE email = $1",
        &[&email.as_str()],
    )?;
    row.map(|r| {
        Ok(StoredCredentials {
            id: r.get(0),
            password_hash: r.get(1),
            status: r.try_get(2)?,
            claim_expired: r.get(3),
            credential_version: r.get(4),
            second_factor: r.get(5),
            disabled: r.get(6),
        })
    })
    .transpose()
}

/// Replaces a password hash that verified but is stale (another bcrypt cost, or made from the
/// un-normalized password) with `new_hash` of the same password. The credential version stays:
/// sessions live on. Nothing happens if the hash changed meanwhile.
pub fn upgrade_hash(
    client: &mut Connection,
    id: i64,
    old_hash: &str,
    new_hash: &str,
) -> Result<(), Error> {
    client.execute(
        "UPDATE accounts SET password_hash = $3 WHERE id = $1 AND password_hash = $2",
        &[&id, &old_hash, &new_hash],
    )?;
    Ok(())
}
