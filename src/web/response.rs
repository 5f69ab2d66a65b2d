//! Writing answers, and the one place where an [`Error`] (or a [`Refusal`] of the transport)
//! becomes a status, a code and headers.

use crate::api::{Body, Reply};
use crate::domain::{EmailError, PasswordError};
use crate::error::Error;
use serde_json::{Map, Value, json};
use std::io::Cursor;
use tiny_http::{Header, Response};

/// `WWW-Authenticate` on every 401 of a Basic Auth endpoint (contract "HTTP conventions").
pub const BASIC_CHALLENGE: &str = r#"Basic realm="beefirst", charset="UTF-8""#;

/// `WWW-Authenticate` on every 401 of `/login` and the Bearer endpoints.
pub const BEARER_CHALLENGE: &str = r#"Bearer realm="beefirst""#;

/// What only the transport refuses, before any handler runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// 404: no such path.
    NoRoute,
    /// 405: the path exists with other methods, listed in `allow`.
    MethodNotAllowed {
        /// The path's methods, for the `Allow` header.
        allow: String,
    },
    /// 413: the declared or actual body is over 8 KiB.
    PayloadTooLarge,
    /// 411: `Transfer-Encoding` bodies are refused (tiny_http would mis-frame them).
    LengthRequired,
    /// 503: the lane's queue is full; answered without touching the database.
    Overloaded,
}

/// Why a request got no answer from a handler: the transport refused it, or the feature failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Refused by the web layer.
    Refused(Refusal),
    /// A feature's error.
    Failed(Error),
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure::Failed(error)
    }
}

impl From<Refusal> for Failure {
    fn from(refusal: Refusal) -> Self {
        Failure::Refused(refusal)
    }
}

/// Converts `reply` to a tiny_http response with `X-Request-Id` and, unless it is a 204,
/// a `Content-Type`.
pub fn into_response(reply: Reply, request_id: &str) -> Response<Cursor<Vec<u8>>> {
    let (bytes, content_type) = match reply.body {
        Body::Json(value) => {
            let mut bytes = value.to_string().into_bytes();
            bytes.push(b'\n'); // a terminal prints the next prompt on a line of its own
            (bytes, Some("application/json"))
        }
        Body::Static(text) => (text.as_bytes().to_vec(), Some("application/json")),
        Body::Empty => (Vec::new(), None),
        Body::Prometheus(text) => (text.into_bytes(), Some("text/plain; version=0.0.4")),
        Body::Asset { content_type, bytes } => (bytes.to_vec(), Some(content_type)),
    };
    let mut response = Response::from_data(bytes).with_status_code(reply.status);
    let content_type = content_type.map(|v| ("Content-Type", v));
    let fixed = content_type.into_iter().chain([("X-Request-Id", request_id)]);
    let extra = reply.headers.iter().map(|(n, v)| (*n, v.as_str()));
    for (name, value) in fixed.chain(extra) {
        if let Ok(header) = Header::from_bytes(name.as_bytes(), value.as_bytes()) {
            response.add_header(header);
        }
    }
    response
}

/// The answer to a failed request: the JSON error body, its status and the headers the contract
/// asks for (`WWW-Authenticate` on 401, `Retry-After` on 429 and 503, `Allow` on 405).
pub fn reply_to(failure: &Failure) -> Reply {
    let (status, code, message) = match failure {
        Failure::Failed(error) => describe(error),
        Failure::Refused(refusal) => describe_refusal(refusal),
    };
    let mut body = Map::new();
    body.insert("error".into(), json!(code));
    body.insert("message".into(), json!(message));
    let mut headers = Vec::new();
    let retry_after = |seconds: u32| ("Retry-After", seconds.max(1).to_string());
    match failure {
        Failure::Refused(Refusal::MethodNotAllowed { allow }) => {
            headers.push(("Allow", allow.clone()))
        }
        Failure::Refused(Refusal::Overloaded) => headers.push(retry_after(1)),
        Failure::Refused(_) => {}
        Failure::Failed(error) => match error {
            Error::WrongCode { attempts_remaining } => {
                body.insert("attempts_remaining".into(), json!(attempts_remaining));
            }
            Error::InvalidCredentials | Error::BasicAuthRequired => {
                headers.push(("WWW-Authenticate", BASIC_CHALLENGE.into()))
            }
            Error::LoginFailed
            | Error::InvalidToken
            | Error::InvalidCode
            | Error::MfaFailed
            | Error::PasskeyFailed => headers.push(("WWW-Authenticate", BEARER_CHALLENGE.into())),
            Error::MailUnavailable | Error::Unavailable | Error::ProviderUnavailable => {
                headers.push(retry_after(5))
            }
            Error::RateLimited { retry_after_seconds }
            | Error::TooManyResends { retry_after_seconds } => {
                headers.push(retry_after(*retry_after_seconds))
            }
            Error::LoginRateLimited { retry_after_seconds } => {
                body.insert("alternatives".into(), json!(["email_code"]));
                headers.push(retry_after(*retry_after_seconds))
            }
            _ => {}
        },
    }
    Reply { status, body: Body::Json(Value::Object(body)), headers }
}

/// Status, code and sentence of each refusal of the transport.
fn describe_refusal(refusal: &Refusal) -> (u16, &'static str, String) {
    let (status, code, message) = match refusal {
        Refusal::NoRoute => (
            404,
            "not_found",
            "No such endpoint; every endpoint is described at GET /openapi.json.",
        ),
        Refusal::MethodNotAllowed { .. } => {
            (405, "method_not_allowed", "This endpoint does not accept that method.")
        }
        Refusal::PayloadTooLarge => {
            (413, "payload_too_large", "The request body must be at most 8 KiB.")
        }
        Refusal::LengthRequired => (
            411,
            "length_required",
            "Send the body with a Content-Length header; Transfer-Encoding is not supported.",
        ),
        Refusal::Overloaded => {
            (503, "overloaded", "The service is overloaded. Try again in a second.")
        }
    };
    (status, code, message.to_owned())
}

/// Status, machine-readable code and human sentence of each error (contract "Endpoints").
#[rustfmt::skip]
fn describe(error: &Error) -> (u16, &'static str, String) {
    let text = |s: &str| s.to_owned();
    match error {
        Error::InvalidJson => (400, "invalid_json", text("The request body must be a JSON object.")),
        Error::InvalidRequest(why) => (400, "invalid_request", why.clone()),
        Error::InvalidEmail(why) => (400, "invalid_email", text(match why {
            EmailError::Shape => "The email must look like local@domain, with exactly one @.",
            EmailError::ForbiddenCharacter => "The email must not contain whitespace, control or invisible characters, or angle or square brackets.",
            EmailError::Domain => "The email's domain must be a valid domain name, not an IP address.",
            EmailError::TooLong => "The email must be at most 254 bytes long.",
        })),
        Error::InvalidPassword(why) => (400, "invalid_password", text(match why {
            PasswordError::TooShort => "The password must be at least 8 bytes long.",
            PasswordError::TooLong => "The password must be at most 72 bytes long (bcrypt's limit).",
            PasswordError::Common => "This password is too common; choose another.",
            PasswordError::Nul => "The password must not contain the NUL character.",
        })),
        Error::InvalidCodeFormat { lengths } => (
            400,
            "invalid_code_format",
            format!(
                "The code must be a string of exactly {} digits ({} for a hardened code).",
                lengths.normal, lengths.hardened
            ),
        ),
        Error::LoginFailed => (401, "invalid_credentials", text("Email or password is wrong.")),
        Error::InvalidToken => (401, "invalid_token", text("The token is missing, invalid, expired or revoked.")),
        Error::NotActivated => (403, "not_activated", text("This account is not activated yet: use the mailed code.")),
        Error::WrongPassword => (403, "wrong_password", text("The password is wrong.")),
        Error::InvalidDisplayName => (400, "invalid_display_name", text("The display name must be 1 to 100 characters after trimming, without control or invisible characters or line breaks.")),
        Error::UnknownField(field) => (
            400,
            "unknown_field",
            format!("Unknown field `{field}`: only `display_name` can be changed."),
        ),
        Error::InvalidCredentials => (401, "invalid_credentials", text("Email or password is wrong.")),
        Error::BasicAuthRequired => (401, "invalid_credentials", text("Send the email and password with HTTP Basic Auth (curl -u email:password).")),
        Error::EmailTaken => (409, "email_taken", text("This email is already registered or awaiting activation.")),
        Error::WrongCode { .. } => (422, "wrong_code", text("The code is wrong.")),
        Error::AttemptsExhausted => (410, "attempts_exhausted", text("Too many wrong codes: the registration was cancelled. Register again.")),
        Error::CodeExpired => (410, "code_expired", text("The code has expired: the registration was cancelled. Register again.")),
        Error::InvalidCode => (401, "invalid_code", text("The email or the code is wrong, expired or used up. Ask for a new code if in doubt.")),
        Error::InvalidResetCodeFormat { digits } => (400, "invalid_code_format", format!("The code must be a string of exactly {digits} digits.")),
        Error::SameEmail => (400, "same_email", text("That is already this account's email.")),
        Error::NoPendingChange => (409, "no_pending_change", text("No change of email is pending: ask for one with POST /me/email.")),
        Error::ChangeAttemptsExhausted => (410, "attempts_exhausted", text("Too many wrong codes: the change of email was cancelled. Ask for a new one.")),
        Error::ChangeCodeExpired => (410, "code_expired", text("The code has expired: the change of email was cancelled. Ask for a new one.")),
        Error::MfaFailed => (401, "invalid_code", text("The code is wrong, or the mfa_token is unknown, expired or used up. Log in again if in doubt.")),
        Error::InvalidMfaCodeFormat => (400, "invalid_code_format", text("The code must be 6 digits from the authenticator app, or a recovery code like abcde-fghij.")),
        Error::WrongTotpCode => (422, "wrong_code", text("The code is wrong: use the current code from the authenticator app, or a recovery code.")),
        Error::TotpAlreadyEnabled => (409, "totp_already_enabled", text("Two-factor authentication is already on. Turn it off first to enrol again.")),
        Error::TotpEnrollmentExhausted => (410, "attempts_exhausted", text("Too many wrong codes: the enrolment was cancelled. Start again with POST /me/totp.")),
        Error::TotpNotEnabled => (409, "totp_not_enabled", text("Two-factor authentication is not on.")),
        Error::NoPendingTotp => (409, "no_pending_totp", text("No enrolment is waiting for a code: start one with POST /me/totp.")),
        Error::Forbidden => (403, "forbidden", text("This needs an administrator's account.")),
        Error::AccountDisabled => (403, "account_disabled", text("This account has been disabled by an administrator.")),
        Error::LastAdmin => (409, "last_admin", text("This would leave no enabled administrator: make another one first.")),
        Error::AccountPending => (409, "account_pending", text("This account is not activated yet, so it cannot have a role.")),
        Error::UserNotFound => (404, "not_found", text("No account has this id.")),
        Error::AlreadyActive => (409, "already_active", text("This account is already active.")),
        Error::RateLimited { .. } => (429, "rate_limited", text("Too many requests. Try again later.")),
        Error::LoginRateLimited { .. } => (429, "rate_limited", text("Too many failed sign-ins for this email. Try again later, or sign in with a code mailed to you (POST /login/code).")),
        Error::TooManyResends { .. } => (429, "too_many_resends", text("No more codes can be sent for this registration. Register again once it expires.")),
        Error::NotFound => (404, "not_found", text("No such resource, or not one of yours.")),
        Error::InvalidPasskey => (400, "invalid_credential", text("The passkey could not be verified: start again with new options.")),
        Error::PasskeyFailed => (401, "invalid_credential", text("Signing in with this passkey failed. Start again with new options, or sign in another way.")),
        Error::InvalidPasskeyName => (400, "invalid_name", text("A passkey's name must be 1 to 64 characters after trimming, without control or invisible characters or line breaks.")),
        Error::TooManyPasskeys => (409, "too_many_passkeys", text("This account has the most passkeys it may hold (20): remove one first.")),
        Error::InvalidRedirect => (400, "invalid_redirect", text("redirect_to must be one of the URLs this service may return to (REDIRECT_ALLOWED_URLS).")),
        Error::InvalidState => (400, "invalid_state", text("This sign-in is unknown, used or expired: start it again.")),
        Error::ReauthenticationRequired => (401, "reauthentication_required", text("This account has no password: sign in again (within 5 minutes) to confirm this change.")),
        Error::PasswordNotSet => (409, "password_not_set", text("This account has no password yet: set one with the reset flow (POST /password/forgot).")),
        Error::ProviderUnavailable => (503, "provider_unavailable", text("The identity provider could not be reached. Try again later, or sign in another way.")),
        Error::AlreadyLinked => (409, "already_linked", text("That account at the provider is linked to an account here already.")),
        Error::LastSignInMethod => (409, "last_sign_in_method", text("This is the account's last way to sign in: add another before removing it.")),
        Error::DeliveryNotFailed => (409, "delivery_not_failed", text("Only a failed delivery can be retried; this one is pending or delivered.")),
        Error::MailUnavailable => (503, "mail_unavailable", text("The verification mail could not be sent. Try again later.")),
        Error::Unavailable => (503, "unavailable", text("The service is temporarily unavailable. Try again later.")),
        Error::Internal(_) => (500, "internal_error", text("Something went wrong on our side.")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(failure: impl Into<Failure>) -> (u16, Value, Vec<(&'static str, String)>) {
        let r = reply_to(&failure.into());
        let Body::Json(body) = r.body else { panic!("error bodies are JSON") };
        (r.status, body, r.headers)
    }

    #[test]
    fn every_error_maps_to_its_contract_status_and_code() {
        let cases = [
            (Error::InvalidJson, 400, "invalid_json"),
            (Error::InvalidRequest("x".into()), 400, "invalid_request"),
            (Error::InvalidEmail(EmailError::Shape), 400, "invalid_email"),
            (Error::InvalidPassword(PasswordError::TooLong), 400, "invalid_password"),
            (
                Error::InvalidCodeFormat {
                    lengths: crate::domain::CodeLengths { normal: 4, hardened: 8 },
                },
                400,
                "invalid_code_format",
            ),
            (Error::InvalidCredentials, 401, "invalid_credentials"),
            (Error::BasicAuthRequired, 401, "invalid_credentials"),
            (Error::EmailTaken, 409, "email_taken"),
            (Error::WrongCode { attempts_remaining: 2 }, 422, "wrong_code"),
            (Error::AttemptsExhausted, 410, "attempts_exhausted"),
            (Error::CodeExpired, 410, "code_expired"),
            (Error::AlreadyActive, 409, "already_active"),
            (Error::InvalidCode, 401, "invalid_code"),
            (Error::Forbidden, 403, "forbidden"),
            (Error::AccountDisabled, 403, "account_disabled"),
            (Error::LastAdmin, 409, "last_admin"),
            (Error::DeliveryNotFailed, 409, "delivery_not_failed"),
            (Error::UserNotFound, 404, "not_found"),
            (Error::AccountPending, 409, "account_pending"),
            (Error::MfaFailed, 401, "invalid_code"),
            (Error::InvalidPasskey, 400, "invalid_credential"),
            (Error::PasskeyFailed, 401, "invalid_credential"),
            (Error::InvalidPasskeyName, 400, "invalid_name"),
            (Error::LastSignInMethod, 409, "last_sign_in_method"),
            (Error::TooManyPasskeys, 409, "too_many_passkeys"),
            (Error::InvalidRedirect, 400, "invalid_redirect"),
            (Error::InvalidState, 400, "invalid_state"),
            (Error::ReauthenticationRequired, 401, "reauthentication_required"),
            (Error::PasswordNotSet, 409, "password_not_set"),
            (Error::ProviderUnavailable, 503, "provider_unavailable"),
            (Error::AlreadyLinked, 409, "already_linked"),
            (Error::InvalidMfaCodeFormat, 400, "invalid_code_format"),
            (Error::WrongTotpCode, 422, "wrong_code"),
            (Error::TotpAlreadyEnabled, 409, "totp_already_enabled"),
            (Error::TotpNotEnabled, 409, "totp_not_enabled"),
            (Error::TotpEnrollmentExhausted, 410, "attempts_exhausted"),
            (Error::NoPendingTotp, 409, "no_pending_totp"),
            (Error::InvalidResetCodeFormat { digits: 8 }, 400, "invalid_code_format"),
            (Error::SameEmail, 400, "same_email"),
            (Error::NoPendingChange, 409, "no_pending_change"),
            (Error::ChangeAttemptsExhausted, 410, "attempts_exhausted"),
            (Error::ChangeCodeExpired, 410, "code_expired"),
            (Error::LoginFailed, 401, "invalid_credentials"),
            (Error::InvalidToken, 401, "invalid_token"),
            (Error::NotActivated, 403, "not_activated"),
            (Error::WrongPassword, 403, "wrong_password"),
            (Error::InvalidDisplayName, 400, "invalid_display_name"),
            (Error::UnknownField("x".into()), 400, "unknown_field"),
            (Error::RateLimited { retry_after_seconds: 7 }, 429, "rate_limited"),
            (Error::LoginRateLimited { retry_after_seconds: 7 }, 429, "rate_limited"),
            (Error::TooManyResends { retry_after_seconds: 7 }, 429, "too_many_resends"),
            (Error::NotFound, 404, "not_found"),
            (Error::MailUnavailable, 503, "mail_unavailable"),
            (Error::Unavailable, 503, "unavailable"),
            (Error::internal("secret detail"), 500, "internal_error"),
        ];
        for (error, status, code) in cases {
            let (got_status, body, _) = reply(error);
            assert_eq!((got_status, body["error"].as_str()), (status, Some(code)));
            assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
            assert!(!body.to_string().contains("secret detail"));
        }
        let refusals = [
            (Refusal::NoRoute, 404, "not_found"),
            (Refusal::MethodNotAllowed { allow: "POST".into() }, 405, "method_not_allowed"),
            (Refusal::PayloadTooLarge, 413, "payload_too_large"),
            (Refusal::LengthRequired, 411, "length_required"),
            (Refusal::Overloaded, 503, "overloaded"),
        ];
        for (refusal, status, code) in refusals {
            let (got_status, body, _) = reply(refusal);
            assert_eq!((got_status, body["error"].as_str()), (status, Some(code)));
        }
    }

    #[test]
    fn required_headers_and_fields_are_present() {
        let (_, _, headers) = reply(Error::InvalidCredentials);
        assert!(headers.contains(&("WWW-Authenticate", BASIC_CHALLENGE.to_owned())));
        for error in [Error::LoginFailed, Error::InvalidToken, Error::InvalidCode, Error::MfaFailed]
        {
            let (_, _, headers) = reply(error);
            assert!(headers.contains(&("WWW-Authenticate", BEARER_CHALLENGE.to_owned())));
        }
        let (_, _, headers) = reply(Refusal::MethodNotAllowed { allow: "POST".into() });
        assert!(headers.contains(&("Allow", "POST".to_owned())));
        let (_, _, headers) = reply(Refusal::Overloaded);
        assert!(headers.contains(&("Retry-After", "1".to_owned())));
        let retrying = [
            Error::Unavailable,
            Error::MailUnavailable,
            Error::RateLimited { retry_after_seconds: 7 },
            Error::LoginRateLimited { retry_after_seconds: 7 },
            Error::TooManyResends { retry_after_seconds: 0 },
        ];
        for error in retrying {
            let (_, _, headers) = reply(error);
            let value = headers.iter().find(|(n, _)| *n == "Retry-After").map(|(_, v)| v.clone());
            assert!(value.is_some_and(|v| v.parse::<u32>().is_ok_and(|n| n >= 1)));
        }
        let (_, _, headers) = reply(Error::RateLimited { retry_after_seconds: 7 });
        assert!(headers.contains(&("Retry-After", "7".to_owned())));
        let (_, body, _) = reply(Error::WrongCode { attempts_remaining: 2 });
        assert_eq!(body["attempts_remaining"], 2);
        let (_, body, _) = reply(Error::LoginRateLimited { retry_after_seconds: 7 });
        assert_eq!(body["alternatives"], json!(["email_code"]));
        let (_, body, _) = reply(Error::RateLimited { retry_after_seconds: 7 });
        assert!(body.get("alternatives").is_none());
    }
}
