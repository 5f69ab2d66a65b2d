//! The one error type of the features. It carries no HTTP: the web layer
//! (`web::response::describe`) maps each variant to a status, an error code and headers in a
//! single tested `match`. Refusals that only the transport can make (no such route, wrong method,
//! body too large or chunked, queue full) are the web layer's own (`web::response::Refusal`).

use crate::domain::{CodeLengths, EmailError, PasswordError};
use std::fmt;
use std::sync::Arc;

/// Everything a request can fail with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// 400: the body is not a JSON object.
    InvalidJson,
    /// 400: a required field is missing or of the wrong type; the text names the field.
    InvalidRequest(String),
    /// 400: the email does not parse (contract "HTTP conventions").
    InvalidEmail(EmailError),
    /// 400: the password is outside 8–72 bytes.
    InvalidPassword(PasswordError),
    /// 400: the code is not a string of `CODE_DIGITS` or `HARDENED_CODE_DIGITS` ASCII digits;
    /// never a wrong attempt.
    InvalidCodeFormat { lengths: CodeLengths },
    /// 401 with a Basic challenge: unknown identity, wrong password or malformed Basic Auth
    /// (indistinguishable on purpose: failure scenario 7, "timing oracle").
    InvalidCredentials,
    /// 401 with a Basic challenge: no `Authorization: Basic` header, or one that does not decode
    /// to `email:password`. Same code as [`Error::InvalidCredentials`], a message that says what
    /// to send (it tells nothing about any account).
    BasicAuthRequired,
    /// 401 with a Bearer challenge: `POST /login` with unknown email, malformed input, wrong
    /// password or an expired claim (indistinguishable).
    LoginFailed,
    /// 401 with a Bearer challenge: missing, malformed, unknown, expired or revoked token.
    InvalidToken,
    /// 403: the right password for a claim that is not activated yet (`POST /login`).
    NotActivated,
    /// 403: the password given to confirm `POST /me/password` or `DELETE /me` is wrong.
    WrongPassword,
    /// 400: display name not 1–100 characters after trimming, or has control characters.
    InvalidDisplayName,
    /// 400: `PATCH /me` with a field other than `display_name`; names the field.
    UnknownField(String),
    /// 409: an active account or an unexpired claim holds the email (seed truth #1).
    EmailTaken,
    /// 422: wrong code; the claim survives with `attempts_remaining` ≥ 1.
    WrongCode { attempts_remaining: u32 },
    /// 410: that was the last allowed wrong code; the claim was deleted (seed truth #8).
    AttemptsExhausted,
    /// 410: the window passed (database clock); the claim was deleted (seed truths #3, #6).
    CodeExpired,
    /// 401 with a Bearer challenge: `POST /password/reset` with an email and code that do not
    /// match a live reset (unknown email, no code, wrong, expired or used up: one body for all).
    InvalidCode,
    /// 400: a reset or email-change code that is not exactly `RESET_CODE_DIGITS` ASCII digits.
    InvalidResetCodeFormat { digits: u32 },
    /// 400: `POST /me/email` with the address the account already has.
    SameEmail,
    /// 409: `POST /me/email/confirm` without a pending change of address.
    NoPendingChange,
    /// 410: the last allowed wrong email-change code; the pending change was cancelled.
    ChangeAttemptsExhausted,
    /// 410: the email-change code expired (database clock); the pending change was cancelled.
    ChangeCodeExpired,
    /// 401 with a Bearer challenge: `POST /login/mfa` with an unknown, expired or used-up
    /// mfa_token, or a wrong code (one body for every failure).
    MfaFailed,
    /// 400: a second-factor code that is neither 6 digits nor a recovery code's shape.
    InvalidMfaCodeFormat,
    /// 422: a wrong TOTP (or recovery) code at `POST /me/totp/confirm` or `DELETE /me/totp`.
    WrongTotpCode,
    /// 409: `POST /me/totp` or `/me/totp/confirm` while a second factor is already on.
    TotpAlreadyEnabled,
    /// 410: the last allowed wrong code at `POST /me/totp/confirm`; the enrolment was deleted.
    TotpEnrollmentExhausted,
    /// 409: `DELETE /me/totp` without a second factor on.
    TotpNotEnabled,
    /// 409: `POST /me/totp/confirm` without an enrolment started by `POST /me/totp`.
    NoPendingTotp,
    /// 403: an admin endpoint called by an account whose role is not `admin` (checked at every
    /// request, so a demotion takes effect at once).
    Forbidden,
    /// 403: the right password of an account an administrator disabled.
    AccountDisabled,
    /// 409: the change would leave no enabled administrator.
    LastAdmin,
    /// 409: a role for an account that is not activated yet (a claim may be released any minute).
    AccountPending,
    /// 404: no account with that id (admin endpoints).
    UserNotFound,
    /// 409: `POST /resend` for an account that is already active.
    AlreadyActive,
    /// 429: a rate limit is exhausted; retry after the given seconds.
    RateLimited { retry_after_seconds: u32 },
    /// 429 at `POST /login`: the email's `LOGIN_FAILURES_PER_ACCOUNT_PER_HOUR` is used up. The
    /// body names `alternatives` (the sign-in code), for every email alike (contract v3).
    LoginRateLimited { retry_after_seconds: u32 },
    /// 429: the claim has had `MAX_RESENDS` resends; retry (register again) once it expires.
    TooManyResends { retry_after_seconds: u32 },
    /// 404: no such resource (a session that is not the caller's, an id beyond any account's).
    NotFound,
    /// 400: `POST /me/passkeys` with a response that does not verify against its ceremony
    /// (unknown, used or expired ceremony, wrong challenge, origin, rpIdHash, missing user
    /// verification, a credential already registered): one body for all.
    InvalidPasskey,
    /// 401: `POST /login/passkey` failed, whatever the reason (unknown, used or expired
    /// ceremony, unknown passkey, bad signature, origin, rpIdHash, flags, user handle, a
    /// counter that went back): one body for all.
    PasskeyFailed,
    /// 400: a passkey name that is not 1 to 64 characters after trimming, or holds a control
    /// character.
    InvalidPasskeyName,
    /// 409: removing this would leave the account nothing to sign in with (contract v3).
    LastSignInMethod,
    /// 409: `POST /me/passkeys/options` for an account that holds `MAX_PASSKEYS` already.
    TooManyPasskeys,
    /// 400: a `redirect_to` outside `REDIRECT_ALLOWED_URLS` (no open redirect).
    InvalidRedirect,
    /// 400: a provider's callback with an unknown, used, expired or another provider's `state`.
    InvalidState,
    /// 401: an account without a password asked for one at a change that needs it; a session
    /// signed in within the last 5 minutes is accepted instead, and this one is older.
    ReauthenticationRequired,
    /// 409: `POST /me/password` for an account without a password (one is set only through the
    /// reset flow, which proves the mailbox).
    PasswordNotSet,
    /// 503: the identity provider could not be reached or answered nonsense (logged).
    ProviderUnavailable,
    /// 409: `POST /me/identities/confirm` for an identity linked to an account already.
    AlreadyLinked,
    /// 409: `POST /admin/webhooks/deliveries/{id}/retry` for a delivery that is not `failed`
    /// (pending deliveries are being tried; delivered ones are done).
    DeliveryNotFailed,
    /// 503: the mail API did not accept the verification mail; the claim was removed again.
    MailUnavailable,
    /// 503: PostgreSQL is unreachable.
    Unavailable,
    /// 500: a bug or an unexpected database answer; the detail is logged, never returned.
    Internal(Bug),
}

/// What went wrong in a 500: what the code was doing, and the error it came from, kept whole so
/// the log shows its chain of causes. Never sent to a client. Two are equal when they say the
/// same (`what`), whatever their sources.
#[derive(Debug, Clone)]
pub struct Bug {
    what: String,
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl fmt::Display for Bug {
    /// `what`, then each cause in turn: `postgres: db error: ERROR: ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Some(source) => write!(f, "{}: {}", self.what, chain(source.as_ref())),
            None => f.write_str(&self.what),
        }
    }
}

/// An error and every cause below it, joined with `: ` (the `postgres` crate's own message is
/// often just "db error" or "error connecting to server"; the cause says which).
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl std::error::Error for Bug {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl PartialEq for Bug {
    fn eq(&self, other: &Bug) -> bool {
        self.what == other.what
    }
}

impl Eq for Bug {}

impl Error {
    /// A 500 with no error behind it (a broken invariant).
    pub fn internal(what: impl Into<String>) -> Error {
        Error::Internal(Bug { what: what.into(), source: None })
    }

    /// A 500 caused by `source`, which is kept (and logged with its causes).
    pub fn internal_from(
        what: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Error {
        Error::Internal(Bug { what: what.into(), source: Some(Arc::new(source)) })
    }
}

impl fmt::Display for Error {
    /// The variant's name and fields; for a 500, what went wrong with its chain of causes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Internal(bug) => write!(f, "internal: {bug}"),
            other => write!(f, "{other:?}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Internal(bug) => Some(bug),
            _ => None,
        }
    }
}

impl From<bcrypt::BcryptError> for Error {
    fn from(e: bcrypt::BcryptError) -> Self {
        Error::internal_from("bcrypt", e)
    }
}

impl From<getrandom::Error> for Error {
    fn from(e: getrandom::Error) -> Self {
        Error::internal(format!("getrandom: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_internal_error_keeps_its_source_and_shows_its_chain() {
        let cause = std::io::Error::other("connection reset");
        let error = Error::internal_from("postgres", cause);
        let source = std::error::Error::source(&error).expect("the bug");
        let root = source.source().expect("the io error");
        assert_eq!(root.to_string(), "connection reset");
        assert_eq!(error.to_string(), "internal: postgres: connection reset");
        assert_eq!(error, Error::internal("postgres"));
        assert_eq!(Error::NotFound.to_string(), "NotFound");
    }
}
