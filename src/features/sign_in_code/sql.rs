//! SQL of signing in with a code mailed to the account's address (`POST /login/code/verify`):
//! the account locked, its code locked and read, the outcome applied, each one statement that
//! runs whatever the email is, so a failure costs the same work for every email. The codes themselves are `mailed_codes`
//! rows of purpose `sign_in`, made as `features::recovery::sql` describes.

use crate::db::pool::{Queries, Tx};
use crate::domain::{CodePurpose, CodeSnapshot, Email, VerificationCode};
use crate::error::Error;

/// The active account of `email` (disabled ones included), locked `FOR NO KEY UPDATE`: parallel
/// guesses queue on it, and each then reads the code in a statement of its own (see
/// [`lock_code`]).
#[derive(Debug, Clone, Copy)]
pub struct CodeAccount {
    /// `accounts.id`.
    pub account_id: i64,
    /// Its credential version now.
    pub credential_version: i32,
    /// A confirmed second factor: the code is only the first step.
    pub mfa_enabled: bool,
    /// Disabled by an administrator.
    pub disabled: bool,
}

/// Locks [`CodeAccount`]. `None`: no active account has `email`.
pub fn lock_account(tx: &mut Tx<'_>, email: &Email) -> Result<Option<CodeAccount>, Error> {
    let row = tx.query_opt(
        "SELECT id, credential_version, mfa_enabled, disabled_at IS NOT NULL
           FROM accounts WHERE email = $1 AND status = 'active'
            FOR NO KEY UPDATE",
        &[&email.as_str()],
    )?;
    Ok(row.map(|r| CodeAccount {
        account_id: r.get(0),
        credential_version: r.get(1),
        mfa_enabled: r.get(2),
        disabled: r.get(3),
    }))
}

/// Locks the sign-in code of the account the caller locked (`None`: no account, and the same
/// statement runs) and evaluates `code` against it with the database clock, as an activation
/// sees a claim. A statement of its own, after the account's lock: a guess that waited for that
/// lock reads the attempts the one before it recorded. A code counts as expired once the account
/// has another password or another address than the one it was mailed to. `None`: no code.
pub fn lock_code(
    tx: &mut Tx<'_>,
    account_id: Option<i64>,
    code: &VerificationCode,
) -> Result<Option<CodeSnapshot>, Error> {
    let row = tx.query_one(
        "SELECT c.expired, c.code_matches, c.wrong_attempts
           FROM (VALUES (1)) AS one
           LEFT JOIN LATERAL (
               SELECT r.expires_at <= now() OR r.credential_version <> a.credential_version
                          OR r.email <> a.email AS expired,
                      r.code_hash = sha256(r.code_salt || $2::bytea) AS code_matches,
                      r.wrong_attempts
                 FROM mailed_codes r JOIN accounts a ON a.id = r.account_id
                WHERE r.account_id = $1 AND r.purpose = $3
                  FOR UPDATE OF r
           ) c ON true",
        &[&account_id, &code.expose().as_bytes(), &CodePurpose::SignIn.as_str()],
    )?;
    let expired: Option<bool> = row.get(0);
    Ok(expired.map(|expired| CodeSnapshot {
        expired,
        code_matches: row.get(1),
        wrong_attempts: u32::try_from(row.get::<_, i32>(2)).unwrap_or(u32::MAX),
    }))
}

/// What happens to a presented sign-in code, applied by [`settle_sign_in_code`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// Right code: consumed.
    Used,
    /// Wrong, with tries left: counted.
    Wrong,
    /// Its last wrong try: deleted.
    Exhausted,
    /// Expired (or made for another password or address): deleted.
    Expired,
    /// No account or no code: nothing to change.
    Nothing,
}

/// Applies `settled` to the sign-in code of the locked account `account_id` (`None`: no account)
/// in one statement, the same statement for every outcome, so failures cost the same whatever
/// the email is.
pub fn settle_sign_in_code(
    tx: &mut Tx<'_>,
    account_id: Option<i64>,
    settled: Settled,
) -> Result<(), Error> {
    let outcome = match settled {
        Settled::Used => "used",
        Settled::Wrong => "wrong",
        Settled::Exhausted => "exhausted",
        Settled::Expired => "expired",
        Settled::Nothing => "nothing",
    };
    tx.execute(
        "WITH counted AS (
             UPDATE mailed_codes SET wrong_attempts = wrong_attempts + 1
              WHERE account_id = $1 AND purpose = 'sign_in' AND $2::text = 'wrong'
         )
         DELETE FROM mailed_codes
          WHERE account_id = $1 AND purpose = 'sign_in'
            AND $2::text IN ('used', 'exhausted', 'expired')",
        &[&account_id, &outcome],
    )?;
    Ok(())
}
