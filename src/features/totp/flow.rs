//! `POST /me/totp`, `POST /me/totp/confirm`, `DELETE /me/totp`: turning the second factor on and
//! off (RFC 6238; OWASP ASVS 5.0 V6.5: codes used once, verification rate-limited, recovery codes
//! hashed and single-use).

use super::sql::{self as totp, Enrollment, LockedFactor};
use crate::app::AppState;
use crate::context::Context;
use crate::db;
use crate::domain::totp::otpauth_uri;
use crate::domain::{
    AuditAction, FactorCode, RecoveryCode, SessionRef, TotpCode, TotpSecret, UserEvent,
    UserEventType,
};
use crate::error::Error;
use crate::features::account::flow as account;
use crate::features::account::sql as account_sql;
use crate::features::rate_limits::flow as limits;
use crate::mail::{Notice, NoticeKind};
use crate::uow::{Subject, UnitOfWork};
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
pub fn enroll(
    state: &AppState,
    ctx: &Context,
    session: &SessionRef,
    password: Option<&str>,
) -> Result<NewSecret, Error> {
    let (account, email) = account::confirm(state, ctx, session, password)?;
    let secret = TotpSecret::generate()?;
    let sealed = state.sealing.seal(secret.expose(), account.account_id)?;
    let mut client = db::checkout(&state.pool)?;
    match totp::start_enrollment(
        &mut client,
        account.account_id,
        account.credential_version,
        &sealed,
    )? {
        Enrollment::Started => {
            let uri = otpauth_uri(&state.config.credentials.totp_issuer, email.as_str(), &secret);
            let qr = qrcode::QrCode::new(uri.as_bytes())
                .map_err(|e| Error::internal(format!("QR code: {e}")))?;
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
    ctx: &Context,
    session: &SessionRef,
    code: &TotpCode,
) -> Result<Vec<RecoveryCode>, Error> {
    let mut client = db::checkout(&state.pool)?;
    let mut uow = UnitOfWork::begin(&mut client, ctx)?;
    let account = account_sql::lock_account(uow.tx(), session)?.ok_or(Error::InvalidToken)?;
    let factor = totp::lock_factor(uow.tx(), account)?.ok_or(Error::NoPendingTotp)?;
    if factor.confirmed {
        return Err(Error::TotpAlreadyEnabled);
    }
    let secret = unseal(state, &factor)?;
    let Some(step) = secret.matching_step(code, factor.now, None) else {
        return wrong_enrollment_code(state, uow, &factor);
    };
    let codes = RecoveryCode::generate_set()?;
    let tags: Vec<Vec<u8>> =
        codes.iter().map(|c| state.sealing.tag(factor.account_id, c.expose().as_bytes())).collect();
    let revoked = totp::confirm(uow.tx(), factor.account_id, step, &tags, session.id)?;
    let id = factor.account_id;
    let details = json!({ "other_sessions_revoked": revoked });
    uow.record_with(Subject::Account(id), Some(id), AuditAction::TotpEnabled, details);
    uow.notify(Notice::new(&factor.email, NoticeKind::TotpEnabled));
    let event = UserEvent::new(UserEventType::MfaChanged, id, factor.email.as_str());
    uow.publish(event.with(json!({ "factor": "totp", "change": "added" })));
    uow.commit(state)?;
    Ok(codes)
}

/// Wrong codes an enrolment survives before it must start over.
pub const MAX_ENROLLMENT_ATTEMPTS: u32 = 5;

/// A wrong code at the confirmation: counted against the enrolment (the
/// [`MAX_ENROLLMENT_ATTEMPTS`]th deletes it: a stolen access token alone cannot guess its way to
/// turning the factor on and receiving the recovery codes) and as a failed login.
fn wrong_enrollment_code(
    state: &AppState,
    mut uow: UnitOfWork<'_>,
    factor: &LockedFactor,
) -> Result<Vec<RecoveryCode>, Error> {
    let last = factor.wrong_attempts + 1 >= MAX_ENROLLMENT_ATTEMPTS;
    totp::fail_enrollment(uow.tx(), factor.account_id, last)?;
    let details = json!({ "factor": "totp", "at": "enrolment", "enrolment_cancelled": last });
    let subject = Subject::Account(factor.account_id);
    uow.record_with(subject, None, AuditAction::LoginFailed, details);
    limits::count_login_failure_on(uow.tx(), state, &factor.email)?;
    uow.commit(state)?;
    Err(if last { Error::TotpEnrollmentExhausted } else { Error::WrongTotpCode })
}

/// Turns the factor off after checking the password and a code (TOTP or recovery); a notice is
/// queued. A wrong code counts as a failed login.
///
/// Errors: 401, 403 [`Error::WrongPassword`], 409 [`Error::TotpNotEnabled`], 422
/// [`Error::WrongTotpCode`], 429, 503.
pub fn disable(
    state: &AppState,
    ctx: &Context,
    session: &SessionRef,
    password: Option<&str>,
    code: &FactorCode,
) -> Result<(), Error> {
    let (_, email) = account::confirm(state, ctx, session, password)?;
    let mut client = db::checkout(&state.pool)?;
    let mut uow = UnitOfWork::begin(&mut client, ctx)?;
    let account = account_sql::lock_account(uow.tx(), session)?.ok_or(Error::InvalidToken)?;
    let factor = match totp::lock_factor(uow.tx(), account)? {
        Some(factor) if factor.confirmed => factor,
        _ => return Err(Error::TotpNotEnabled),
    };
    let id = factor.account_id;
    if !check_code(state, &mut uow, &factor, code, Purpose::Disable)? {
        let details = json!({ "factor": "totp", "at": "turning it off" });
        uow.record_with(Subject::Account(id), None, AuditAction::LoginFailed, details);
        limits::count_login_failure_on(uow.tx(), state, &email)?;
        uow.commit(state)?;
        return Err(Error::WrongTotpCode);
    }
    totp::disable(uow.tx(), id)?;
    uow.record(Subject::Account(id), Some(id), AuditAction::TotpDisabled);
    uow.notify(Notice::new(&email, NoticeKind::TotpDisabled));
    let event = UserEvent::new(UserEventType::MfaChanged, id, email.as_str());
    uow.publish(event.with(json!({ "factor": "totp", "change": "removed" })));
    uow.commit(state)
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
pub fn check_code(
    state: &AppState,
    uow: &mut UnitOfWork<'_>,
    factor: &LockedFactor,
    code: &FactorCode,
    purpose: Purpose,
) -> Result<bool, Error> {
    let id = factor.account_id;
    match code {
        FactorCode::Totp(code) => {
            let secret = unseal(state, factor)?;
            match secret.matching_step(code, factor.now, factor.last_used_step) {
                Some(step) => totp::accept_step(uow.tx(), id, step).map(|()| true),
                None => Ok(false),
            }
        }
        FactorCode::Recovery(code) => {
            let tag = state.sealing.tag(id, code.expose().as_bytes());
            let Some(left) = totp::use_recovery_code(uow.tx(), id, &tag)? else {
                return Ok(false);
            };
            let details = json!({ "codes_left": left });
            uow.record_with(Subject::Account(id), Some(id), AuditAction::RecoveryCodeUsed, details);
            let used_to = match purpose {
                Purpose::Login => "signed in to your beefirst account",
                Purpose::Disable => "turned off two-factor authentication of your beefirst account",
            };
            let notice = NoticeKind::RecoveryCodeUsed { used_to, left };
            uow.notify(Notice::new(&factor.email, notice));
            Ok(true)
        }
    }
}

/// The factor's secret. Errors: 500 when it does not open (`TOTP_ENCRYPTION_KEY` changed since
/// enrolment, or the row was tampered with): logged, never guessed around.
fn unseal(state: &AppState, factor: &LockedFactor) -> Result<TotpSecret, Error> {
    state.sealing.open(&factor.sealed, factor.account_id).map(TotpSecret::from_bytes).ok_or_else(
        || Error::internal("a TOTP secret does not open: was TOTP_ENCRYPTION_KEY changed?"),
    )
}
