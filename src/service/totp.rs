//! `POST /me/totp`, `POST /me/totp/confirm`, `DELETE /me/totp`: turning the second factor on and
//! off (RFC 6238; OWASP ASVS 5.0 V6.5: codes used once, verification rate-limited, recovery codes
//! hashed and single-use).

use super::{AppState, account, limits};
use crate::domain::totp::otpauth_uri;
use crate::domain::{Email, FactorCode, RecoveryCode, SessionRef, TotpCode, TotpSecret};
use crate::error::Error;
use crate::mail::{recovery_code_used_message, totp_disabled_message, totp_enabled_message};
use crate::store::pool::Tx;
use crate::store::totp::{Enrollment, LockedFactor};
use crate::store::{self, outbox, totp};
use serde_json::json;

/// A started enrolment: what the authenticator app needs.
#[derive(Debug)]
pub struct NewSecret {
    /// The secret in base32 (for typing it in).
    pub secret: String,
    /// `otpauth://totp/…` (for a QR code).
    pub otpauth_uri: String,
    /// The URI as a QR code, SVG markup (no script, no style).
    pub qr_svg: String,
}

/// Starts an enrolment after checking the password: a fresh secret, sealed at rest, not asked
/// for at login until confirmed; a new call replaces an unconfirmed one.
///
/// Errors: 401, 403 [`Error::WrongPassword`] (a failed login), 409
/// [`Error::TotpAlreadyEnabled`], 429, 503.
pub fn enroll(state: &AppState, session: &SessionRef, password: &str) -> Result<NewSecret, Error> {
    let (account, email) = account::confirm(state, session, password)?;
    let secret = TotpSecret::generate()?;
    let sealed = state.sealing.seal(secret.expose(), account.account_id)?;
    let mut client = store::checkout(&state.pool)?;
    match totp::start_enrollment(
        &mut client,
        account.account_id,
        account.credential_version,
        &sealed,
    )? {
        Enrollment::Started => {
            let uri = otpauth_uri(&state.config.totp_issuer, email.as_str(), &secret);
            let qr = qrcode::QrCode::new(uri.as_bytes())
                .map_err(|e| Error::Internal(format!("QR code: {e}")))?;
            let qr_svg = qr.render::<qrcode::render::svg::Color>().min_dimensions(200, 200).build();
            Ok(NewSecret { secret: secret.base32(), otpauth_uri: uri, qr_svg })
        }
        Enrollment::AlreadyEnabled => Err(Error::TotpAlreadyEnabled),
        Enrollment::Stale => Err(Error::InvalidToken),
    }
}

/// Confirms the enrolment with a code from the app: the factor is on from now, every other session
/// of the account is revoked (contract v3), ten recovery codes are returned (the only time they
/// are shown; stored keyed-hashed), a notice is queued.
///
/// Errors: 401, 409 [`Error::NoPendingTotp`] | [`Error::TotpAlreadyEnabled`], 422
/// [`Error::WrongTotpCode`], 503.
pub fn confirm(
    state: &AppState,
    session: &SessionRef,
    code: &TotpCode,
) -> Result<Vec<RecoveryCode>, Error> {
    let mut client = store::checkout(&state.pool)?;
    let mut tx = client.begin()?;
    let account = store::sessions::lock_account(&mut tx, session)?.ok_or(Error::InvalidToken)?;
    let factor = totp::lock_factor(&mut tx, account)?.ok_or(Error::NoPendingTotp)?;
    if factor.confirmed {
        return Err(Error::TotpAlreadyEnabled);
    }
    let secret = unseal(state, &factor)?;
    let Some(step) = secret.matching_step(code, factor.now, None) else {
        return wrong_enrollment_code(state, tx, &factor);
    };
    let codes = RecoveryCode::generate_set()?;
    let tags: Vec<Vec<u8>> =
        codes.iter().map(|c| state.sealing.tag(factor.account_id, c.expose().as_bytes())).collect();
    let revoked = totp::confirm(&mut tx, factor.account_id, step, &tags, session.id)?;
    let id = Some(factor.account_id);
    let details = json!({ "other_sessions_revoked": revoked });
    store::audit::record(&mut tx, id, id, "totp_enabled", Some(&details))?;
    outbox::enqueue(&mut tx, "totp_enabled", &totp_enabled_message(&email_of(&factor)?))?;
    tx.commit()?;
    state.outbox.wake();
    Ok(codes)
}

/// Wrong codes an enrolment survives before it must start over.
pub const MAX_ENROLLMENT_ATTEMPTS: u32 = 5;

/// A wrong code at the confirmation: counted against the enrolment (the
/// [`MAX_ENROLLMENT_ATTEMPTS`]th deletes it: a stolen access token alone cannot guess its way to
/// turning the factor on and receiving the recovery codes) and as a failed login.
fn wrong_enrollment_code(
    state: &AppState,
    mut tx: Tx<'_>,
    factor: &LockedFactor,
) -> Result<Vec<RecoveryCode>, Error> {
    let last = factor.wrong_attempts + 1 >= MAX_ENROLLMENT_ATTEMPTS;
    totp::fail_enrollment(&mut tx, factor.account_id, last)?;
    let details = json!({ "factor": "totp", "at": "enrolment", "enrolment_cancelled": last });
    store::audit::record(&mut tx, Some(factor.account_id), None, "login_failed", Some(&details))?;
    limits::count_login_failure_on(&mut tx, state, &email_of(factor)?)?;
    tx.commit()?;
    Err(if last { Error::TotpEnrollmentExhausted } else { Error::WrongTotpCode })
}

/// Turns the factor off after checking the password and a code (TOTP or recovery); a notice is
/// queued. A wrong code counts as a failed login.
///
/// Errors: 401, 403 [`Error::WrongPassword`], 409 [`Error::TotpNotEnabled`], 422
/// [`Error::WrongTotpCode`], 429, 503.
pub fn disable(
    state: &AppState,
    session: &SessionRef,
    password: &str,
    code: &FactorCode,
) -> Result<(), Error> {
    let (_, email) = account::confirm(state, session, password)?;
    let mut client = store::checkout(&state.pool)?;
    let mut tx = client.begin()?;
    let account = store::sessions::lock_account(&mut tx, session)?.ok_or(Error::InvalidToken)?;
    let factor = match totp::lock_factor(&mut tx, account)? {
        Some(factor) if factor.confirmed => factor,
        _ => return Err(Error::TotpNotEnabled),
    };
    if !check_code(state, &mut tx, &factor, code, Purpose::Disable)? {
        let details = json!({ "factor": "totp", "at": "turning it off" });
        store::audit::record(
            &mut tx,
            Some(factor.account_id),
            None,
            "login_failed",
            Some(&details),
        )?;
        limits::count_login_failure_on(&mut tx, state, &email)?;
        tx.commit()?;
        return Err(Error::WrongTotpCode);
    }
    totp::disable(&mut tx, factor.account_id)?;
    let id = Some(factor.account_id);
    store::audit::record(&mut tx, id, id, "totp_disabled", None)?;
    outbox::enqueue(&mut tx, "totp_disabled", &totp_disabled_message(&email))?;
    tx.commit()?;
    state.outbox.wake();
    Ok(())
}

/// What a second-factor code is checked for (the notice of a recovery code's use says which).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// `POST /login/mfa`.
    Login,
    /// `DELETE /me/totp`.
    Disable,
}

/// Checks `code` against the locked, confirmed `factor` inside `tx` and spends it: a TOTP code's
/// step becomes the newest accepted one (no replay), a recovery code is deleted and its notice
/// queued. False for a wrong code (nothing spent).
pub(super) fn check_code(
    state: &AppState,
    tx: &mut Tx<'_>,
    factor: &LockedFactor,
    code: &FactorCode,
    purpose: Purpose,
) -> Result<bool, Error> {
    match code {
        FactorCode::Totp(code) => {
            let secret = unseal(state, factor)?;
            match secret.matching_step(code, factor.now, factor.last_used_step) {
                Some(step) => totp::accept_step(tx, factor.account_id, step).map(|()| true),
                None => Ok(false),
            }
        }
        FactorCode::Recovery(code) => {
            let tag = state.sealing.tag(factor.account_id, code.expose().as_bytes());
            match totp::use_recovery_code(tx, factor.account_id, &tag)? {
                Some(left) => {
                    let (id, details) = (Some(factor.account_id), json!({ "codes_left": left }));
                    store::audit::record(tx, id, id, "recovery_code_used", Some(&details))?;
                    let used_to = match purpose {
                        Purpose::Login => "signed in to your beefirst account",
                        Purpose::Disable => {
                            "turned off two-factor authentication of your beefirst account"
                        }
                    };
                    let notice = recovery_code_used_message(&email_of(factor)?, used_to, left);
                    outbox::enqueue(tx, "recovery_code_used", &notice).map(|()| true)
                }
                None => Ok(false),
            }
        }
    }
}

/// The factor's secret. Errors: 500 when it does not open (`TOTP_ENCRYPTION_KEY` changed since
/// enrolment, or the row was tampered with): logged, never guessed around.
fn unseal(state: &AppState, factor: &LockedFactor) -> Result<TotpSecret, Error> {
    state.sealing.open(&factor.sealed, factor.account_id).map(TotpSecret::from_bytes).ok_or_else(
        || Error::Internal("a TOTP secret does not open: was TOTP_ENCRYPTION_KEY changed?".into()),
    )
}

fn email_of(factor: &LockedFactor) -> Result<Email, Error> {
    Email::parse(&factor.email).map_err(|_| Error::Internal("stored email does not parse".into()))
}
