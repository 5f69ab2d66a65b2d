//! Every mail the service sends, as one typed value: what it is, to whom, and what it carries. A
//! feature records a [`Notice`]; [`Notice::message`] renders it from the mail templates
//! ([`Templates`]). Codes the
//! contract requires delivered before the answer (registration) are sent at once through the
//! mailer; every other notice is queued by the unit of work and delivered by the outbox.

use super::message::Message;
use super::templates::{Rendered, SAMPLE_ADDRESS, Templates};
use crate::domain::Email;
use crate::error::Error;
use minijinja::{Value, context};
use serde_json::json;
use std::path::Path;
use std::sync::OnceLock;

/// One mail to one address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The recipient.
    pub to: Email,
    /// What it says.
    pub kind: NoticeKind,
}

/// What a mail says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoticeKind {
    /// The verification code of a claim (registration, resend); `hardened` says why it is long.
    VerificationCode { code: String, ttl_seconds: u32, hardened: bool },
    /// A password-reset code.
    ResetCode { code: String, ttl_seconds: u32 },
    /// A sign-in code.
    SignInCode { code: String, ttl_seconds: u32 },
    /// The code that proves a new address.
    EmailChangeCode { code: String, ttl_seconds: u32 },
    /// The password was changed; other sessions were signed out.
    PasswordChanged,
    /// The password was reset with a mailed code; every session was signed out.
    PasswordReset,
    /// The owner deleted the account.
    AccountDeleted,
    /// An administrator deleted the account.
    AccountDeletedByAdmin,
    /// A change of address to `new` was asked for (to the current address).
    EmailChangeRequested { new: Email },
    /// The address changed to `new` (to the old address).
    EmailChanged { new: Email },
    /// The second factor was turned on.
    TotpEnabled,
    /// The second factor was turned off.
    TotpDisabled,
    /// Wrong second-factor codes were tried.
    SecondFactorWarning,
    /// A recovery code was used to do `used_to`; `left` remain.
    RecoveryCodeUsed { used_to: &'static str, left: i64 },
    /// A passkey called `name` was added.
    PasskeyAdded { name: String },
    /// The passkey called `name` was removed.
    PasskeyRemoved { name: String },
    /// An identity of `provider` was linked: it signs in to the account now.
    IdentityLinked { provider: String },
}

/// When a notice is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Queued, then tried once right after the commit and before the answer (contract:
    /// password-change and deletion notices are mailed before the response); retried by the
    /// outbox if that try fails.
    BeforeAnswer,
    /// Queued for the background worker.
    Queued,
}

impl Notice {
    /// A notice of `kind` to `to`.
    pub fn new(to: &Email, kind: NoticeKind) -> Notice {
        Notice { to: to.clone(), kind }
    }

    /// Its name in the outbox and in logs.
    pub fn name(&self) -> &'static str {
        match &self.kind {
            NoticeKind::VerificationCode { .. } => "verification",
            NoticeKind::ResetCode { .. } => "password_reset_code",
            NoticeKind::SignInCode { .. } => "sign_in_code",
            NoticeKind::EmailChangeCode { .. } => "email_change_code",
            NoticeKind::PasswordChanged => "password_changed",
            NoticeKind::PasswordReset => "password_reset",
            NoticeKind::AccountDeleted | NoticeKind::AccountDeletedByAdmin => "account_deleted",
            NoticeKind::EmailChangeRequested { .. } => "email_change_requested",
            NoticeKind::EmailChanged { .. } => "email_changed",
            NoticeKind::TotpEnabled => "totp_enabled",
            NoticeKind::TotpDisabled => "totp_disabled",
            NoticeKind::SecondFactorWarning => "mfa_failures",
            NoticeKind::RecoveryCodeUsed { .. } => "recovery_code_used",
            NoticeKind::PasskeyAdded { .. } => "passkey_added",
            NoticeKind::PasskeyRemoved { .. } => "passkey_removed",
            NoticeKind::IdentityLinked { .. } => "identity_linked",
        }
    }

    /// For a mail that carries a code: seconds until it is useless (a queued one is never sent
    /// after that).
    pub fn expires_in(&self) -> Option<u32> {
        match &self.kind {
            NoticeKind::VerificationCode { ttl_seconds, .. }
            | NoticeKind::ResetCode { ttl_seconds, .. }
            | NoticeKind::SignInCode { ttl_seconds, .. }
            | NoticeKind::EmailChangeCode { ttl_seconds, .. } => Some(*ttl_seconds),
            _ => None,
        }
    }

    /// See [`Delivery`].
    pub fn delivery(&self) -> Delivery {
        match self.kind {
            NoticeKind::PasswordChanged | NoticeKind::AccountDeleted => Delivery::BeforeAnswer,
            _ => Delivery::Queued,
        }
    }

    /// The mail, from `templates`; should they fail at run time (they were checked at start, so
    /// only a template that misbehaves on some value, or shows a value with digits before the
    /// code), logged, and the built-in ones instead.
    /// Errors: 500 if the built-in templates fail too (a bug their unit test catches).
    pub fn message(&self, templates: &Templates) -> Result<Message, Error> {
        let (kind, values) = self.template();
        let rendered = templates.render(kind, self.to.as_str(), &values).or_else(|error| {
            crate::telemetry::log::error(
                "mail_template_failed",
                json!({"kind": kind, "error": error}),
            );
            built_in_templates()?.render(kind, self.to.as_str(), &values)
        });
        let Rendered { subject, text, html } = rendered.map_err(Error::internal)?;
        Ok(Message { to: self.to.clone(), subject, text, html })
    }

    /// The name of its templates (`KIND.txt`, `KIND.html`) and the values they can use.
    pub fn template(&self) -> (&'static str, Value) {
        let code_values = |code: &str, ttl_seconds: &u32| {
            context! { code, ttl_seconds, expires_in => duration(*ttl_seconds) }
        };
        match &self.kind {
            NoticeKind::VerificationCode { code, ttl_seconds, hardened } => {
                ("verification", context! { hardened, ..code_values(code, ttl_seconds) })
            }
            NoticeKind::ResetCode { code, ttl_seconds } => {
                ("password_reset_code", code_values(code, ttl_seconds))
            }
            NoticeKind::SignInCode { code, ttl_seconds } => {
                ("sign_in_code", code_values(code, ttl_seconds))
            }
            NoticeKind::EmailChangeCode { code, ttl_seconds } => {
                ("email_change_code", code_values(code, ttl_seconds))
            }
            NoticeKind::EmailChangeRequested { new } => {
                ("email_change_requested", context! { new_email => new.as_str() })
            }
            NoticeKind::EmailChanged { new } => {
                ("email_changed", context! { new_email => new.as_str() })
            }
            NoticeKind::RecoveryCodeUsed { used_to, left } => {
                ("recovery_code_used", context! { used_to, left })
            }
            NoticeKind::PasskeyAdded { name } => {
                ("passkey_added", context! { passkey_name => name })
            }
            NoticeKind::PasskeyRemoved { name } => {
                ("passkey_removed", context! { passkey_name => name })
            }
            NoticeKind::IdentityLinked { provider } => ("identity_linked", context! { provider }),
            NoticeKind::AccountDeletedByAdmin => ("account_deleted_by_admin", context! {}),
            _ => (self.name(), context! {}),
        }
    }

    /// One notice of every kind (both shapes of a verification code), with sample values: what
    /// [`Templates::load`] checks the templates with, all to `to`.
    pub fn samples(to: &Email) -> Vec<Notice> {
        let code = || "80417".to_owned();
        let new = to.clone();
        let kinds = [
            NoticeKind::VerificationCode { code: code(), ttl_seconds: 60, hardened: false },
            NoticeKind::VerificationCode { code: code(), ttl_seconds: 60, hardened: true },
            NoticeKind::ResetCode { code: code(), ttl_seconds: 900 },
            NoticeKind::SignInCode { code: code(), ttl_seconds: 900 },
            NoticeKind::EmailChangeCode { code: code(), ttl_seconds: 900 },
            NoticeKind::PasswordChanged,
            NoticeKind::PasswordReset,
            NoticeKind::AccountDeleted,
            NoticeKind::AccountDeletedByAdmin,
            NoticeKind::EmailChangeRequested { new: new.clone() },
            NoticeKind::EmailChanged { new },
            NoticeKind::TotpEnabled,
            NoticeKind::TotpDisabled,
            NoticeKind::SecondFactorWarning,
            NoticeKind::RecoveryCodeUsed { used_to: "signed in", left: 9 },
            NoticeKind::PasskeyAdded { name: "Laptop".to_owned() },
            NoticeKind::PasskeyRemoved { name: "Laptop".to_owned() },
            NoticeKind::IdentityLinked { provider: "corp".to_owned() },
        ];
        kinds.into_iter().map(|kind| Notice::new(to, kind)).collect()
    }
}

/// The built-in mail templates, checked once (their unit tests check them too).
pub fn built_in_templates() -> Result<&'static Templates, String> {
    static BUILT_IN: OnceLock<Result<Templates, String>> = OnceLock::new();
    BUILT_IN.get_or_init(|| load_templates(None)).as_ref().map_err(Clone::clone)
}

/// The mail templates: built in, or `dir`'s (`MAIL_TEMPLATES_DIR`), checked with a sample of
/// every kind of notice ([`Templates::load`]). Errors: what is wrong, naming the file.
pub fn load_templates(dir: Option<&Path>) -> Result<Templates, String> {
    let to = Email::parse(SAMPLE_ADDRESS).map_err(|e| format!("sample address: {e:?}"))?;
    let samples: Vec<_> = Notice::samples(&to).iter().map(Notice::template).collect();
    Templates::load(dir, &samples)
}

/// `900` → "15 minutes", `90` → "90 seconds".
fn duration(seconds: u32) -> String {
    match seconds {
        60 => "1 minute".into(),
        s if s % 60 == 0 => format!("{} minutes", s / 60),
        s => format!("{s} seconds"),
    }
}
