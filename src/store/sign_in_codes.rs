//! SQL of signing in with a code mailed to the account's address (`POST /login/code/verify`):
//! the account and its code read in one statement, and one statement for whatever follows, so a
//! failure costs the same work whatever the email is. The codes themselves are `mailed_codes`
//! rows of purpose `sign_in`, made as [`super::mailed_codes`] describes.

use super::pool::{Queries, Tx};
use crate::domain::{ClaimSnapshot, CodePurpose, Email, VerificationCode};
use crate::error::Error;

/// The active account of `email` (disabled ones included), locked `FOR NO KEY UPDATE` (so
/// parallel guesses queue on it), with its `purpose` code evaluated against a presented code.
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
    /// The code, as an activation sees a claim; `None`: no code of that purpose.
    pub code: Option<ClaimSnapshot>,
}

/// Reads and locks [`CodeAccount`] in one statement (the same one whatever the email is).
/// `None`: no active account has `email`.
pub fn lock_account_with_code(
    tx: &mut Tx<'_>,
    email: &Email,
    purpose: CodePurpose,
    code: &VerificationCode,
) -> Result<Option<CodeAccount>, Error> {
    let row = tx.query_opt(
        "SELECT a.id, a.credential_version, a.mfa_enabled, a.disabled_at IS NOT NULL,
                r.account_id IS NOT NULL,
                coalesce(r.expires_at <= now() OR r.credential_version <> a.credential_version
                         OR r.email <> a.email, true),
                coalesce(r.code_hash = sha256(r.code_salt || $3::bytea), false),
                coalesce(r.wrong_attempts, 0)
           FROM accounts a
           LEFT JOIN mailed_codes r ON r.account_id = a.id AND r.purpose = $2
          WHERE a.email = $1 AND a.status = 'active'
            FOR NO KEY UPDATE OF a",
        &[
            &email.as_str() as &(dyn postgres::types::ToSql + Sync),
            &purpose.as_str(),
            &code.expose().as_bytes(),
        ],
    )?;
    Ok(row.map(|r| CodeAccount {
        account_id: r.get(0),
        credential_version: r.get(1),
        mfa_enabled: r.get(2),
        disabled: r.get(3),
        code: r.get::<_, bool>(4).then(|| ClaimSnapshot {
            expired: r.get(5),
            code_matches: r.get(6),
            wrong_attempts: u32::try_from(r.get::<_, i32>(7)).unwrap_or(u32::MAX),
        }),
    }))
}

/// What happens to a presented sign-in code, applied by [`settle_sign_in_code`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// Right code: consumed.
    Used,
    /// Wrong, with tries left: counted, and recorded as a failed sign-in.
    Wrong,
    /// Its last wrong try: deleted, and recorded as a failed sign-in.
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
    let (ip, request_id) = super::audit::context();
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
         ), gone AS (
             DELETE FROM mailed_codes
              WHERE account_id = $1 AND purpose = 'sign_in'
                AND $2::text IN ('used', 'exhausted', 'expired')
         )
         INSERT INTO audit_events (account_id, action, client_ip, request_id, details)
         SELECT $1, 'login_failed', $3, $4,
                jsonb_build_object('factor', 'email_code', 'code_killed', $2::text = 'exhausted')
          WHERE $1::bigint IS NOT NULL AND $2::text IN ('wrong', 'exhausted')",
        &[&account_id, &outcome, &ip, &request_id],
    )?;
    Ok(())
}
